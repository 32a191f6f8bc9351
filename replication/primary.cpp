// The primary: accepts mirrors, bootstraps them from a checkpoint, streams
// the WAL, collects their acknowledgements.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netdb.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <list>
#include <thread>

#include <fmt/format.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "messages.h"
#include "packmail/replication/replication.h"
#include "packmail/storage/crc32c.h"
#include "packmail/storage/segment_replication.h"
#include "rate_limiter.h"
#include "stamp.h"
#include "wire.h"

namespace packmail::replication {
namespace {

namespace fs = std::filesystem;
using clock = std::chrono::steady_clock;
using storage::errc;
using storage::status;

constexpr auto k_login_timeout = std::chrono::seconds(10);
constexpr auto k_heartbeat_interval = std::chrono::milliseconds(500);
// A tailing mirror that acknowledges nothing (not even heartbeats) this long
// is dropped.
constexpr auto k_ack_timeout = std::chrono::seconds(10);
constexpr std::size_t k_chunk = 1 << 20;

// Which pages of [offset, offset + length) of fd are in the page cache now
// (one entry per page, bit 0 set if cached); empty if that cannot be told.
// offset must be page-aligned (chunks are 1 MiB apart).
std::vector<unsigned char> cached_pages(int fd, std::uint64_t offset, std::uint64_t length) {
  if (length == 0) return {};
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  void* map = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(offset));
  if (map == MAP_FAILED) return {};
  std::vector<unsigned char> pages((length + page - 1) / page);
  if (::mincore(map, length, pages.data()) != 0) pages.clear();
  ::munmap(map, length);
  return pages;
}

// Drops from the page cache the pages of [offset, offset + length) that were
// not cached before the read (cached: from cached_pages; empty: keep all).
void drop_pages_read(int fd, std::uint64_t offset, std::uint64_t length,
                     const std::vector<unsigned char>& cached) {
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t pages = std::min<std::uint64_t>(cached.size(), (length + page - 1) / page);
  for (std::uint64_t first = 0; first < pages;) {
    if (cached[first] & 1) {
      ++first;
      continue;
    }
    std::uint64_t end = first;
    while (end < pages && !(cached[end] & 1)) ++end;
    ::posix_fadvise(fd, static_cast<off_t>(offset + first * page),
                    static_cast<off_t>((end - first) * page), POSIX_FADV_DONTNEED);
    first = end;
  }
}

struct sent_batch {
  std::uint64_t last_seq;
  std::uint64_t bytes;
  std::uint64_t commit_ms;
};

// One connected mirror. Fields below `mutex` in impl guard the mutable ones.
struct link {
  std::unique_ptr<wire::connection> conn;
  std::string peer;
  std::thread sender;
  std::thread acks;
  std::atomic<bool> closed{false};

  std::string state = "handshake";  // handshake, bootstrap, tailing
  std::uint64_t sent_seq = 0;
  std::uint64_t acked_seq = 0;
  bool caught_up = false;
  clock::time_point last_ack = clock::now();
  std::deque<sent_batch> unacked;
  std::uint64_t boot_total = 0, boot_sent = 0;
  clock::time_point boot_start;

  // One verification at a time: the sender sends VERIFY once the stream
  // reached verify_seq; the ack reader stores the mirror's answer.
  std::uint64_t verify_id = 0;
  const rocksdb::Snapshot* verify_snapshot = nullptr;  // taken by the sender
  std::uint64_t verify_seq = 0;
  bool verify_sent = false;
  std::optional<std::string> verify_answer;
};

// A checkpoint directory, removed when done.
struct checkpoint_dir {
  fs::path path;
  ~checkpoint_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

struct primary::impl {
  primary_options options;
  storage::segment_db::db_ref db;
  int listen_fd = -1;
  std::uint16_t port = 0;
  std::atomic<bool> stopping{false};
  std::thread acceptor;
  rate_limiter limiter;

  mutable std::mutex mutex;
  std::condition_variable changed;  // acks, commits, link state
  std::uint64_t commits = 0;
  std::list<std::shared_ptr<link>> links;
  std::uint64_t next_verify_id = 1;
  std::atomic<std::uint64_t> checkpoints{0};

  impl(primary_options o, storage::segment_db::db_ref d)
      : options(std::move(o)), db(d), limiter(options.bootstrap_rate, options.adaptive_rate) {}

  void listen();
  void accept_loop();
  void serve(const std::shared_ptr<link>& l);
  void bootstrap(const std::shared_ptr<link>& l);
  void tail(const std::shared_ptr<link>& l, std::uint64_t next);
  void read_acks(const std::shared_ptr<link>& l);
  void close(const std::shared_ptr<link>& l, const std::string& why);
  nlohmann::json link_status(const link& l) const;
};

void primary::impl::listen() {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(options.port);
  if (int rc = ::getaddrinfo(options.host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    throw std::runtime_error(
        fmt::format("replication listener {}: {}", options.host, ::gai_strerror(rc)));
  }
  listen_fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const bool ok = listen_fd >= 0 && ::bind(listen_fd, found->ai_addr, found->ai_addrlen) == 0 &&
                  ::listen(listen_fd, 16) == 0;
  ::freeaddrinfo(found);
  if (!ok) {
    throw std::runtime_error(fmt::format("cannot listen on {}:{} (replication): {}", options.host,
                                         options.port, std::strerror(errno)));
  }
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&a)->sin_port
                                      : reinterpret_cast<sockaddr_in6*>(&a)->sin6_port);
}

void primary::impl::accept_loop() {
  while (!stopping) {
    pollfd p{listen_fd, POLLIN, 0};
    if (::poll(&p, 1, 200) != 1) continue;
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    auto l = std::make_shared<link>();
    l->conn = std::make_unique<wire::connection>(fd);
    l->peer = l->conn->peer();
    std::lock_guard lock(mutex);
    // Finished links are joined here, so at most one dead thread pair lingers.
    for (auto it = links.begin(); it != links.end();) {
      if ((*it)->closed && (*it)->state == "closed") {
        if ((*it)->sender.joinable()) (*it)->sender.join();
        if ((*it)->acks.joinable()) (*it)->acks.join();
        it = links.erase(it);
      } else {
        ++it;
      }
    }
    links.push_back(l);
    l->sender = std::thread([this, l] { serve(l); });
  }
}

void primary::impl::close(const std::shared_ptr<link>& l, const std::string& why) {
  if (l->closed.exchange(true)) return;
  if (why == "done" || why == "shutting down") {
    spdlog::info("replication: mirror {} disconnected: {}", l->peer, why);
  } else {
    spdlog::warn("replication: mirror {} disconnected: {}", l->peer, why);
  }
  l->conn->shutdown();
  std::lock_guard lock(mutex);
  l->caught_up = false;
  changed.notify_all();
}

void primary::impl::serve(const std::shared_ptr<link>& l) {
  try {
    const std::string nonce = wire::random_bytes(msg::k_nonce_size);
    l->conn->send(wire::type::hello, msg::encode(msg::hello{nonce}));
    auto frame = l->conn->receive(k_login_timeout);
    if (!frame) throw wire::error("no login within 10 s");
    if (frame->kind != wire::type::login) throw wire::error("expected a login");
    const auto login = msg::decode_login(frame->payload);
    const bool has_db = login.has_db;
    const auto epoch = login.epoch;
    const auto seq = login.sequence;
    // Tells the mirror why, then ends the link with `why` in the log.
    auto refuse = [&](const std::string& told, const std::string& why) {
      l->conn->send(wire::type::error, msg::encode_text(told));
      throw wire::error(why);
    };
    if (!wire::same(login.proof, wire::proof(options.secret, "mirror", nonce))) {
      refuse("authentication failed", "authentication failed (wrong shared secret)");
    }
    auto history = storage::segment_db::read_epochs(db);
    if (!history.ok()) throw wire::error(history.error().to_string());
    const std::uint64_t latest = db.db->GetLatestSequenceNumber();
    wire::plan plan = wire::plan::tail;
    std::uint64_t fork = 0;
    std::string why;
    if (!has_db) {
      plan = wire::plan::bootstrap;
      why = "the mirror is empty";
    } else if (epoch > history.value().current) {
      const std::string m = fmt::format(
          "the mirror is at epoch {}, newer than this primary's {}: it was promoted; not "
          "following an older primary",
          epoch, history.value().current);
      refuse(m, m);
    } else if (epoch == history.value().current && seq > latest) {
      const std::string m = fmt::format(
          "the mirror is at sequence {}, ahead of this primary ({}) in the same epoch {}", seq,
          latest, epoch);
      refuse(m, m);
    } else if (seq > (fork = history.value().fork_point(epoch))) {
      plan = wire::plan::diverged;
      why = fmt::format("its history forked after sequence {} (epoch {} ended there)", fork, epoch);
    }
    msg::welcome welcome;
    welcome.proof = wire::proof(options.secret, "primary", login.nonce);
    welcome.epoch = history.value().current;
    welcome.latest = latest;
    welcome.plan = plan;
    welcome.fork = plan == wire::plan::diverged ? fork : 0;
    welcome.reason = why;
    l->conn->send(wire::type::welcome, msg::encode(welcome));
    {
      std::lock_guard lock(mutex);
      l->acked_seq = seq;
      l->sent_seq = seq;
    }
    switch (plan) {
      case wire::plan::bootstrap:
        spdlog::info("replication: mirror {}: bootstrap ({})", l->peer, why);
        bootstrap(l);
        break;
      case wire::plan::diverged:
        spdlog::warn(
            "replication: mirror {} diverged: {}; it quarantines its tail and "
            "bootstraps again",
            l->peer, why);
        // The mirror closes; wait for that so its log line comes first.
        (void)l->conn->receive(std::chrono::seconds(30));
        break;
      case wire::plan::tail:
        spdlog::info("replication: mirror {} follows from sequence {}", l->peer, seq + 1);
        l->acks = std::thread([this, l] { read_acks(l); });
        tail(l, seq + 1);
        break;
    }
    close(l, "done");
  } catch (const std::exception& e) {
    close(l, e.what());
  }
  std::lock_guard lock(mutex);
  l->state = "closed";
}

void primary::impl::bootstrap(const std::shared_ptr<link>& l) {
  {
    std::lock_guard lock(mutex);
    l->state = "bootstrap";
  }
  checkpoint_dir dir{options.work_dir /
                     fmt::format("checkpoint-{}-{}", ::getpid(), checkpoints.fetch_add(1))};
  std::error_code ec;
  fs::remove_all(dir.path, ec);
  fs::create_directories(dir.path.parent_path(), ec);
  rocksdb::Checkpoint* raw = nullptr;
  auto s = rocksdb::Checkpoint::Create(db.db, &raw);
  std::unique_ptr<rocksdb::Checkpoint> cp(raw);
  std::uint64_t seq = 0;
  // log_size_for_flush 0: always flush, so the checkpoint is SST and blob
  // files plus a short WAL (STORAGE-REPLICATION.md section 4).
  if (s.ok()) s = cp->CreateCheckpoint(dir.path.string(), 0, &seq);
  if (!s.ok()) throw wire::error("creating a checkpoint: " + s.ToString());

  msg::checkpoint_list list;
  for (const auto& entry : fs::directory_iterator(dir.path)) {
    if (entry.is_regular_file()) {
      list.files.emplace_back(entry.path().filename(), entry.file_size());
    }
  }
  std::sort(list.files.begin(), list.files.end());
  (void)db.db->GetDbIdentity(list.identity);
  list.sequence = seq;
  const auto& files = list.files;
  l->conn->send(wire::type::checkpoint, msg::encode(list));
  auto want = l->conn->receive(std::chrono::seconds(60));
  if (!want || want->kind != wire::type::want) throw wire::error("expected the wanted files");
  const std::vector<std::uint32_t> wanted = msg::decode_want(want->payload, files.size());
  std::uint64_t wanted_bytes = 0;
  for (auto i : wanted) wanted_bytes += files[i].second;
  {
    std::lock_guard lock(mutex);
    l->boot_total = wanted_bytes;
    l->boot_sent = 0;
    l->boot_start = clock::now();
  }
  spdlog::info(
      "replication: mirror {}: checkpoint at sequence {}: {} files, {} MiB to send "
      "({} already there)",
      l->peer, seq, files.size(), wanted_bytes >> 20, files.size() - wanted.size());
  limiter.set_active(true);
  // The bulk transfer runs at a lower CPU and I/O priority than the client
  // sessions (DESIGN.md). This thread ends with the bootstrap (the mirror
  // reconnects to follow), so lowering it back is a courtesy that needs
  // CAP_SYS_NICE.
  struct background {
    rate_limiter& r;
    background(rate_limiter& limiter) : r(limiter) { set_bulk_priority(true); }
    ~background() {
      set_bulk_priority(false);
      r.set_active(false);
    }
  } guard{limiter};
  std::string buf(k_chunk, '\0');
  for (auto i : wanted) {
    const fs::path path = dir.path / files[i].first;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw wire::error(fmt::format("{}: {}", path.string(), std::strerror(errno)));
    struct closer {
      int fd;
      ~closer() { ::close(fd); }
    } c{fd};
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    std::uint32_t crc = 0;
    std::uint64_t offset = 0;
    const std::uint64_t size = files[i].second;
    for (;;) {
      if (stopping || l->closed) throw wire::error("stopped");
      // The checkpoint's SST and blob files are hard links to the live
      // store's: pages the store had cached stay, only the ones this read
      // brings in are dropped after sending, so the transfer neither evicts
      // nor displaces the IMAP working set.
      const auto cached =
          cached_pages(fd, offset, std::min<std::uint64_t>(k_chunk, size - std::min(size, offset)));
      ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(offset));
      if (n < 0) throw wire::error(fmt::format("{}: {}", path.string(), std::strerror(errno)));
      if (n == 0) break;
      limiter.acquire(static_cast<std::uint64_t>(n));
      std::string_view chunk(buf.data(), static_cast<std::size_t>(n));
      crc = storage::crc32c_extend(crc, chunk);
      l->conn->send(wire::type::file_data, msg::encode(msg::file_data{i, offset, chunk}));
      drop_pages_read(fd, offset, static_cast<std::uint64_t>(n), cached);
      offset += static_cast<std::uint64_t>(n);
      std::lock_guard lock(mutex);
      l->boot_sent += static_cast<std::uint64_t>(n);
    }
    l->conn->send(wire::type::file_end, msg::encode(msg::file_end{i, crc}));
  }
  l->conn->send(wire::type::checkpoint_end, {});
  // The mirror closes after it has installed the files.
  (void)l->conn->receive(std::chrono::minutes(10));
}

void primary::impl::tail(const std::shared_ptr<link>& l, std::uint64_t next) {
  {
    std::lock_guard lock(mutex);
    l->state = "tailing";
    l->last_ack = clock::now();
  }
  // A verification compares both sides at exactly verify_seq, a batch
  // boundary (a snapshot's sequence): the VERIFY goes out between the batch
  // ending there and the next one.
  // The sender takes the snapshot itself, between batches, so its sequence
  // is never behind what was already sent.
  auto maybe_verify = [&](std::uint64_t next_seq) {
    std::unique_lock lock(mutex);
    if (l->verify_id && !l->verify_snapshot) {
      l->verify_snapshot = db.db->GetSnapshot();
      l->verify_seq = l->verify_snapshot->GetSequenceNumber();
      changed.notify_all();
    }
    if (!l->verify_id || l->verify_sent || next_seq - 1 != l->verify_seq) return false;
    l->verify_sent = true;
    const auto id = l->verify_id, at = l->verify_seq;
    lock.unlock();
    l->conn->send(wire::type::verify, msg::encode(msg::verify{id, at}));
    return true;
  };
  // The WAL no longer holds `next`: a gap means a new bootstrap, never a
  // hole (section 3). The mirror closes after it read why.
  auto resync = [&](const std::string& why) {
    spdlog::warn("replication: mirror {}: {}; bootstrapping again", l->peer, why);
    l->conn->send(wire::type::resync, msg::encode_text(why + "; bootstrapping again"));
    (void)l->conn->receive(std::chrono::seconds(30));
  };
  std::unique_ptr<rocksdb::TransactionLogIterator> it;
  auto last_heartbeat = clock::time_point{};
  std::uint64_t seen_commits = 0;
  while (!stopping && !l->closed) {
    if (!it || (!it->Valid() && !it->status().ok())) {
      it.reset();
      if (next <= db.db->GetLatestSequenceNumber()) {
        auto s = db.db->GetUpdatesSince(next, &it);
        if (!s.ok()) {
          // NotFound: next is past the latest sequence (nothing new yet).
          if (!s.IsNotFound()) throw wire::error("reading the WAL: " + s.ToString());
          it.reset();
        } else if (!it->Valid() && it->status().ok()) {
          // Sequences up to the latest are published, so in the WAL: a fresh
          // iterator with nothing to read means they were purged.
          return resync(
              fmt::format("the WAL no longer holds sequence {} (purged from the archive)", next));
        }
      }
    } else if (!it->Valid()) {
      it->Next();  // at the end of the newest file: reads what was appended since
    }
    while (it && it->Valid()) {
      maybe_verify(next);  // before this batch, if the verification stops here
      auto batch = it->GetBatch();
      const std::uint64_t first = batch.sequence;
      const std::uint64_t count = batch.writeBatchPtr->Count();
      const std::uint64_t last = first + count - 1;
      if (count == 0 ||
          last < next) {  // already sent (the iterator starts at the batch holding next)
        it->Next();
        continue;
      }
      // GetUpdatesSince silently skips ahead when `next` was purged.
      if (first != next) {
        return resync(fmt::format(
            "the WAL continues at sequence {} but the mirror needs {} (purged from the archive)",
            first, next));
      }
      const auto& data = batch.writeBatchPtr->Data();
      const auto stamp = read_stamp(*batch.writeBatchPtr);
      {
        // Recorded before the send: the mirror may acknowledge it at once.
        std::lock_guard lock(mutex);
        l->sent_seq = last;
        l->unacked.push_back({last, data.size(), stamp ? stamp->commit_ms : unix_ms()});
      }
      l->conn->send(wire::type::batch, msg::encode(msg::batch{first, data}));
      next = last + 1;
      it->Next();
    }
    if (it && !it->Valid() && !it->status().ok() && !it->status().IsTryAgain()) {
      throw wire::error("reading the WAL: " + it->status().ToString());
    }
    if (maybe_verify(next)) continue;
    std::unique_lock lock(mutex);
    if (clock::now() - l->last_ack > k_ack_timeout) {
      lock.unlock();
      throw wire::error("no acknowledgement for 10 s");
    }
    if (clock::now() - last_heartbeat >= k_heartbeat_interval) {
      lock.unlock();
      l->conn->send(wire::type::heartbeat,
                    msg::encode(msg::heartbeat{db.db->GetLatestSequenceNumber(), unix_ms()}));
      last_heartbeat = clock::now();
      continue;
    }
    // Sleep until a commit (or a verification, or the next heartbeat).
    if (seen_commits == commits) {
      changed.wait_for(lock, std::chrono::milliseconds(50),
                       [&] { return seen_commits != commits || stopping || l->closed; });
    }
    seen_commits = commits;
  }
}

void primary::impl::read_acks(const std::shared_ptr<link>& l) {
  try {
    while (!stopping && !l->closed) {
      auto f = l->conn->receive(std::chrono::milliseconds(500));
      if (!f) continue;
      if (f->kind == wire::type::ack) {
        const std::uint64_t seq = msg::decode_ack(f->payload);
        std::lock_guard lock(mutex);
        // A mirror cannot have applied what was never sent to it.
        if (seq > l->sent_seq) {
          throw wire::error(
              fmt::format("acknowledged sequence {} beyond the {} sent", seq, l->sent_seq));
        }
        l->last_ack = clock::now();
        l->acked_seq = std::max(l->acked_seq, seq);
        while (!l->unacked.empty() && l->unacked.front().last_seq <= l->acked_seq) {
          l->unacked.pop_front();
        }
        if (!l->caught_up && l->acked_seq >= db.db->GetLatestSequenceNumber()) {
          l->caught_up = true;
          spdlog::info("replication: mirror {} is in sync at sequence {}", l->peer, seq);
        }
        changed.notify_all();
      } else if (f->kind == wire::type::digests) {
        const auto answer = msg::decode_digests(f->payload);
        std::lock_guard lock(mutex);
        if (answer.id == l->verify_id) l->verify_answer = std::string(answer.json);
        changed.notify_all();
      } else if (f->kind == wire::type::error) {
        throw wire::error("the mirror reports: " + msg::decode_text(f->payload));
      } else {
        throw wire::error("unexpected message from the mirror");
      }
    }
  } catch (const std::exception& e) {
    close(l, e.what());
  }
}

nlohmann::json primary::impl::link_status(const link& l) const {
  const std::uint64_t latest = db.db->GetLatestSequenceNumber();
  nlohmann::json j{{"peer", l.peer},
                   {"state", l.closed ? "closed" : l.state},
                   {"in_sync", l.caught_up && !l.closed},
                   {"sent_sequence", l.sent_seq},
                   {"acked_sequence", l.acked_seq}};
  std::uint64_t bytes = 0;
  for (const auto& b : l.unacked) bytes += b.bytes;
  const double seconds = l.unacked.empty() ? 0.0 : seconds_since(l.unacked.front().commit_ms);
  j["lag"] = {{"sequences", latest > l.acked_seq ? latest - l.acked_seq : 0},
              {"batches", l.unacked.size()},
              {"bytes", bytes},
              {"seconds", seconds}};
  if (l.state == "bootstrap")
    j["bootstrap"] = transfer_progress(l.boot_total, l.boot_sent, l.boot_start);
  return j;
}

primary::primary(primary_options options, storage::mail_store& store)
    : impl_(std::make_unique<impl>(std::move(options), storage::segment_db::of_store(store))) {
  if (!impl_->db) throw std::runtime_error("replication needs the segment store");
  if (impl_->options.secret.empty()) throw std::runtime_error("replication: empty secret");
  std::error_code ec;
  fs::create_directories(impl_->options.work_dir, ec);
  // Checkpoints left by a crash pin old files: remove them.
  for (const auto& e : fs::directory_iterator(impl_->options.work_dir, ec)) {
    if (e.path().filename().string().starts_with("checkpoint-")) fs::remove_all(e.path(), ec);
  }
  impl_->listen();
  impl_->acceptor = std::thread([this] { impl_->accept_loop(); });
}

primary::~primary() {
  impl_->stopping = true;
  impl_->changed.notify_all();
  if (impl_->acceptor.joinable()) impl_->acceptor.join();
  std::list<std::shared_ptr<link>> links;
  {
    std::lock_guard lock(impl_->mutex);
    links = impl_->links;
  }
  for (auto& l : links) {
    impl_->close(l, "shutting down");
    if (l->sender.joinable()) l->sender.join();
    if (l->acks.joinable()) l->acks.join();
  }
  ::close(impl_->listen_fd);
}

std::uint16_t primary::bound_port() const { return impl_->port; }
durability primary::mode() const { return impl_->options.mode; }
std::uint64_t primary::latest_sequence() const { return impl_->db.db->GetLatestSequenceNumber(); }
void primary::record_latency(std::chrono::microseconds d) { impl_->limiter.record(d); }

bool primary::in_sync() const {
  std::lock_guard lock(impl_->mutex);
  for (const auto& l : impl_->links) {
    if (l->caught_up && !l->closed) return true;
  }
  return false;
}

void primary::notify_commit() {
  std::lock_guard lock(impl_->mutex);
  ++impl_->commits;
  impl_->changed.notify_all();
}

status primary::wait_durable(std::uint64_t seq) {
  std::unique_lock lock(impl_->mutex);
  const auto deadline = clock::now() + impl_->options.ack_timeout;
  bool any_in_sync = false;
  const bool done = impl_->changed.wait_until(lock, deadline, [&] {
    any_in_sync = false;
    for (const auto& l : impl_->links) {
      if (l->closed || !l->caught_up) continue;
      any_in_sync = true;
      if (l->acked_seq >= seq) return true;
    }
    return !any_in_sync || impl_->stopping.load();
  });
  if (done && any_in_sync && !impl_->stopping) return {};
  for (const auto& l : impl_->links) {
    if (!l->closed && l->caught_up && l->acked_seq >= seq) return {};
  }
  return storage::status(errc::temporary, any_in_sync ? "the mirror did not acknowledge in time"
                                                      : "no mirror in sync");
}

nlohmann::json primary::status() const {
  auto history = storage::segment_db::read_epochs(impl_->db);
  nlohmann::json mirrors = nlohmann::json::array();
  std::lock_guard lock(impl_->mutex);
  for (const auto& l : impl_->links) {
    if (!l->closed) mirrors.push_back(impl_->link_status(*l));
  }
  return {{"role", "primary"},
          {"epoch", history.ok() ? history.value().current : 0},
          {"sequence", impl_->db.db->GetLatestSequenceNumber()},
          {"mode", impl_->options.mode == durability::sync ? "sync" : "async"},
          {"listen", fmt::format("{}:{}", impl_->options.host, impl_->port)},
          {"bootstrap_rate_limit", impl_->limiter.rate()},
          {"mirrors", mirrors}};
}

storage::result<nlohmann::json> primary::verify() {
  std::shared_ptr<link> l;
  std::uint64_t id = 0;
  std::unique_lock lock(impl_->mutex);
  for (const auto& candidate : impl_->links) {
    if (!candidate->closed && candidate->state == "tailing" && !candidate->verify_id) {
      l = candidate;
      break;
    }
  }
  if (!l) return storage::status(errc::not_found, "no mirror is following this primary");
  id = impl_->next_verify_id++;
  l->verify_id = id;
  l->verify_snapshot = nullptr;
  l->verify_sent = false;
  l->verify_answer.reset();
  impl_->changed.notify_all();
  // Whatever happens, the verification ends here and its snapshot goes.
  struct finish {
    impl& i;
    link& l;
    std::unique_lock<std::mutex>& lock;
    ~finish() {
      if (!lock.owns_lock()) lock.lock();
      if (l.verify_snapshot) i.db.db->ReleaseSnapshot(l.verify_snapshot);
      l.verify_snapshot = nullptr;
      l.verify_id = 0;
    }
  } done{*impl_, *l, lock};
  impl_->changed.wait_for(lock, std::chrono::seconds(30),
                          [&] { return l->verify_snapshot || l->closed || impl_->stopping; });
  if (!l->verify_snapshot) {
    return storage::status(errc::temporary,
                           "the mirror's stream did not reach a verification point");
  }
  const rocksdb::Snapshot* snapshot = l->verify_snapshot;
  const std::uint64_t at = l->verify_seq;
  lock.unlock();
  auto mine = storage::segment_db::digests(impl_->db, snapshot);
  lock.lock();
  impl_->changed.wait_for(lock, std::chrono::minutes(10),
                          [&] { return l->verify_answer || l->closed || impl_->stopping; });
  std::optional<std::string> answer = std::move(l->verify_answer);
  lock.unlock();
  if (!mine.ok()) return mine.error();
  if (!answer)
    return storage::status(errc::temporary, "the mirror did not answer the verification");
  auto theirs = nlohmann::json::parse(*answer, nullptr, false);
  if (theirs.is_discarded() || !theirs.is_object()) {
    return storage::status(errc::internal, "malformed digests from the mirror");
  }
  if (theirs.contains("error")) {
    return storage::status(errc::internal, "the mirror: " + theirs["error"].get<std::string>());
  }
  nlohmann::json differences = nlohmann::json::array();
  for (const auto& [name, digest] : mine.value()) {
    if (!theirs.contains(name)) {
      differences.push_back({{"mailbox", name}, {"problem", "missing on the mirror"}});
    } else if (theirs[name] != digest) {
      differences.push_back({{"mailbox", name}, {"problem", "different"}});
    }
  }
  for (const auto& [name, digest] : theirs.items()) {
    if (!mine.value().count(name)) {
      differences.push_back({{"mailbox", name}, {"problem", "only on the mirror"}});
    }
  }
  return nlohmann::json{{"sequence", at},
                        {"mirror", l->peer},
                        {"equal", differences.empty()},
                        {"mailboxes", mine.value().size() - mine.value().count("(shared)")},
                        {"differences", differences}};
}

}  // namespace packmail::replication
