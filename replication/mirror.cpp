// The mirror: connects to the primary, bootstraps from its checkpoint when
// empty, diverged or behind the WAL archive, then applies its WAL batches in
// order, one thread, nothing else writing.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <fmt/format.h>
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
namespace sdb = storage::segment_db;
using clock = std::chrono::steady_clock;
using storage::errc;
using storage::status;

constexpr auto k_primary_silence = std::chrono::seconds(10);
constexpr auto k_max_backoff = std::chrono::seconds(5);

std::string utc_stamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw wire::error(fmt::format("{}: {}", dir.string(), std::strerror(errno)));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw wire::error(fmt::format("fsync {}: {}", dir.string(), std::strerror(errno)));
}

bool immutable_file(const std::string& name) {
  return name.ends_with(".sst") || name.ends_with(".blob");
}

}  // namespace

struct mirror::impl {
  mirror_options options;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::unique_ptr<sdb::database> db;  // used by the thread only (promote joins it first)
  bool force_bootstrap = false;       // the primary asked for one (WAL purged)
  bool followed = false;              // this session applied or acknowledged something

  mutable std::mutex mutex;
  std::condition_variable wake;
  std::shared_ptr<wire::connection> conn;
  std::string state = "starting";
  std::string last_error;
  std::uint16_t epoch = 0;
  std::uint64_t sequence = 0, primary_sequence = 0, applied_commit_ms = 0;
  std::uint64_t boot_total = 0, boot_received = 0;
  clock::time_point boot_start;
  std::uint64_t bootstraps = 0;

  explicit impl(mirror_options o) : options(std::move(o)) {}

  fs::path staging() const { return options.work_dir / "bootstrap"; }
  void set_state(std::string s) {
    std::lock_guard lock(mutex);
    state = std::move(s);
  }
  void run();
  // Returns true to reconnect at once.
  bool session();
  void bootstrap(wire::connection& c);
  void install(std::uint64_t files, std::uint64_t bytes, double seconds);
  void quarantine(std::uint64_t fork, std::uint16_t primary_epoch);
  void tail(wire::connection& c);
  void open_db();
  // Ends following: wakes and joins the thread (which closes the database).
  void stop();
};

void mirror::impl::stop() {
  stopping = true;
  {
    std::lock_guard lock(mutex);
    if (conn) conn->shutdown();
    wake.notify_all();
  }
  if (thread.joinable()) thread.join();
}

void mirror::impl::open_db() {
  if (db || !sdb::exists(options.store.path)) return;
  auto d = sdb::database::open(options.store);
  if (!d.ok()) throw wire::error("opening the mirror's database: " + d.error().to_string());
  db = std::move(d.value());
  auto history = sdb::read_epochs(db->ref());
  std::lock_guard lock(mutex);
  epoch = history.ok() ? history.value().current : 0;
  sequence = db->db()->GetLatestSequenceNumber();
}

void mirror::impl::run() {
  auto backoff = std::chrono::milliseconds(200);
  std::string logged;
  while (!stopping) {
    bool again = false;
    followed = false;
    try {
      again = session();
    } catch (const std::exception& e) {
      std::lock_guard lock(mutex);
      state = "disconnected";
      last_error = e.what();
      if (logged != last_error && !stopping) {
        spdlog::warn("replication: primary {}:{}: {}; retrying", options.primary_host,
                     options.primary_port, last_error);
        logged = last_error;
      }
    }
    {
      std::lock_guard lock(mutex);
      conn.reset();
    }
    // A session that bootstrapped or followed the primary was good, however
    // it ended: the next failure is news again, and is retried quickly.
    if (again || followed) {
      backoff = std::chrono::milliseconds(200);
      logged.clear();
    }
    if (again || stopping) continue;
    std::unique_lock lock(mutex);
    wake.wait_for(lock, backoff, [&] { return stopping.load(); });
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, k_max_backoff);
  }
  db.reset();
}

bool mirror::impl::session() {
  set_state("connecting");
  auto c = std::shared_ptr<wire::connection>(
      wire::connection::dial(options.primary_host, options.primary_port, std::chrono::seconds(5)));
  {
    std::lock_guard lock(mutex);
    conn = c;
    if (stopping) return false;
  }
  auto hello = c->receive(std::chrono::seconds(10));
  if (!hello || hello->kind != wire::type::hello) throw wire::error("no greeting from the primary");
  const std::string primary_nonce = msg::decode_hello(hello->payload).nonce;

  open_db();
  const bool has_db = db && !force_bootstrap;
  const std::string nonce = wire::random_bytes(msg::k_nonce_size);
  std::uint16_t my_epoch = 0;
  std::uint64_t my_seq = 0;
  {
    std::lock_guard lock(mutex);
    my_epoch = epoch;
    my_seq = sequence;
  }
  msg::login login;
  login.proof = wire::proof(options.secret, "mirror", primary_nonce);
  login.nonce = nonce;
  login.has_db = has_db;
  login.epoch = has_db ? my_epoch : 0;
  login.sequence = has_db ? my_seq : 0;
  c->send(wire::type::login, msg::encode(login));
  auto answer = c->receive(std::chrono::seconds(30));
  if (!answer) throw wire::error("no answer to the login");
  if (answer->kind == wire::type::error) {
    throw wire::error("the primary refuses: " + msg::decode_text(answer->payload));
  }
  if (answer->kind != wire::type::welcome) throw wire::error("expected a welcome");
  const auto welcome = msg::decode_welcome(answer->payload);
  if (!wire::same(welcome.proof, wire::proof(options.secret, "primary", nonce))) {
    throw wire::error("the primary failed to prove the shared secret");
  }
  const auto primary_epoch = welcome.epoch;
  const auto primary_seq = welcome.latest;
  const auto plan = welcome.plan;
  const auto fork = welcome.fork;
  const auto& why = welcome.reason;
  {
    std::lock_guard lock(mutex);
    primary_sequence = primary_seq;
    last_error.clear();
  }
  switch (plan) {
    case wire::plan::bootstrap:
      spdlog::info("replication: bootstrapping from {}:{} ({})", options.primary_host,
                   options.primary_port, force_bootstrap ? "the WAL archive moved past us" : why);
      bootstrap(*c);
      return true;
    case wire::plan::diverged:
      quarantine(fork, primary_epoch);
      return true;
    case wire::plan::tail:
      tail(*c);
      return false;
  }
  throw wire::error("unknown plan from the primary");
}

void mirror::impl::bootstrap(wire::connection& c) {
  auto f = c.receive(std::chrono::minutes(5));
  if (!f || f->kind != wire::type::checkpoint) throw wire::error("expected the checkpoint list");
  const auto list = msg::decode_checkpoint_list(f->payload);
  const std::string& identity = list.identity;
  const std::uint64_t checkpoint_seq = list.sequence;
  const auto& files = list.files;

  // Files kept from an interrupted bootstrap of the same primary database:
  // SST and blob files never change once written, so a complete one (its
  // size and checksum recorded below) is not sent again.
  const fs::path dir = staging();
  std::error_code ec;
  {
    std::ifstream source(dir / ".source");
    std::string previous;
    std::getline(source, previous);
    if (previous != identity) fs::remove_all(dir, ec);
  }
  fs::create_directories(dir);
  { std::ofstream(dir / ".source") << identity << "\n"; }
  std::map<std::string, std::uint64_t> complete;
  {
    std::ifstream in(dir / ".complete");
    std::string name;
    std::uint64_t size = 0;
    std::uint32_t crc = 0;
    while (in >> name >> size >> crc) complete[name] = size;
  }
  std::vector<std::uint32_t> wanted;
  std::uint64_t wanted_bytes = 0;
  std::set<std::string> names;
  for (std::uint32_t i = 0; i < files.size(); ++i) {
    const auto& [name, size] = files[i];
    names.insert(name);
    auto done = complete.find(name);
    if (immutable_file(name) && done != complete.end() && done->second == size &&
        fs::file_size(dir / name, ec) == size) {
      continue;
    }
    wanted.push_back(i);
    wanted_bytes += size;
  }
  // Anything else in the staging directory is from another checkpoint.
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (!name.starts_with(".") && !names.count(name)) fs::remove(e.path(), ec);
  }
  c.send(wire::type::want, msg::encode_want(wanted));
  {
    std::lock_guard lock(mutex);
    state = "bootstrap";
    boot_total = wanted_bytes;
    boot_received = 0;
    boot_start = clock::now();
  }
  spdlog::info(
      "replication: checkpoint at sequence {}: {} files; receiving {} ({} MiB), {} "
      "kept from an earlier attempt",
      checkpoint_seq, files.size(), wanted.size(), wanted_bytes >> 20,
      files.size() - wanted.size());

  // Bulk work: a mirror that shares a machine with client-facing work must
  // not compete with it (the primary's sender does the same).
  struct background {
    background() { set_bulk_priority(true); }
    ~background() { set_bulk_priority(false); }
  } priority;
  const std::set<std::uint32_t> wanted_set(wanted.begin(), wanted.end());
  std::ofstream complete_log(dir / ".complete", std::ios::app);
  int fd = -1;
  std::uint32_t current = UINT32_MAX;
  std::uint64_t written = 0;
  std::uint32_t crc = 0;
  struct closer {
    int& fd;
    ~closer() {
      if (fd >= 0) ::close(fd);
    }
  } guard{fd};
  for (;;) {
    if (stopping) throw wire::error("stopped");
    auto frame = c.receive(std::chrono::seconds(60));
    if (!frame) throw wire::error("the primary sent nothing for 60 s during the bootstrap");
    if (frame->kind == wire::type::file_data) {
      const auto data = msg::decode_file_data(frame->payload);
      const auto index = data.index;
      const auto offset = data.offset;
      const auto bytes = data.bytes;
      if (!wanted_set.count(index)) throw wire::error("file data for a file not asked for");
      if (offset + bytes.size() > files[index].second) {
        throw wire::error("file data beyond the announced size");
      }
      if (index != current) {
        if (fd >= 0) throw wire::error("file data before the previous file ended");
        fd = ::open((dir / files[index].first).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                    0644);
        if (fd < 0)
          throw wire::error(fmt::format("{}: {}", files[index].first, std::strerror(errno)));
        current = index;
        written = 0;
        crc = 0;
      }
      if (offset != written) throw wire::error("file data out of order");
      for (std::string_view rest = bytes; !rest.empty();) {
        ssize_t n = ::write(fd, rest.data(), rest.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
          throw wire::error(
              fmt::format("writing {}: {}", files[index].first, std::strerror(errno)));
        rest.remove_prefix(static_cast<std::size_t>(n));
      }
      crc = storage::crc32c_extend(crc, bytes);
      written += bytes.size();
      std::lock_guard lock(mutex);
      boot_received += bytes.size();
    } else if (frame->kind == wire::type::file_end) {
      const auto end = msg::decode_file_end(frame->payload);
      const auto index = end.index;
      const auto expected = end.crc;
      if (index >= files.size()) throw wire::error("end of an unknown file");
      const auto& [name, size] = files[index];
      if (index != current && !(files[index].second == 0 && wanted_set.count(index))) {
        throw wire::error("end of a file that was not being sent");
      }
      if (index != current) {  // an empty file: no data frames
        fd = ::open((dir / name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) throw wire::error(fmt::format("{}: {}", name, std::strerror(errno)));
        written = 0;
        crc = 0;
      }
      if (crc != expected || written != size) {
        ::close(fd);
        fd = -1;
        fs::remove(dir / name, ec);
        throw wire::error(
            fmt::format("file {}: checksum or size mismatch (crc32c {:08x}, "
                        "expected {:08x}; {} of {} bytes); not used",
                        name, crc, expected, written, size));
      }
      if (::fdatasync(fd) != 0) throw wire::error(fmt::format("fsync {}", name));
      ::close(fd);
      fd = -1;
      current = UINT32_MAX;
      if (immutable_file(name)) complete_log << name << ' ' << size << ' ' << crc << std::endl;
    } else if (frame->kind == wire::type::checkpoint_end) {
      break;
    } else if (frame->kind == wire::type::error) {
      throw wire::error("the primary: " + msg::decode_text(frame->payload));
    } else {
      throw wire::error("unexpected message during the bootstrap");
    }
  }
  for (const auto& [name, size] : files) {
    if (fs::file_size(dir / name, ec) != size) {
      throw wire::error(fmt::format("file {} is incomplete after the bootstrap", name));
    }
  }
  fsync_dir(dir);
  double seconds = 0;
  {
    std::lock_guard lock(mutex);
    seconds = std::chrono::duration<double>(clock::now() - boot_start).count();
  }
  install(files.size(), wanted_bytes, seconds);
}

void mirror::impl::install(std::uint64_t files, std::uint64_t bytes, double seconds) {
  const fs::path dir = staging();
  const fs::path target = options.store.path;
  std::error_code ec;
  fs::remove(dir / ".source", ec);
  fs::remove(dir / ".complete", ec);
  db.reset();
  fs::path old;
  if (fs::exists(target)) {
    // Behind the archive: the old copy stays until the new one is in place.
    old = options.work_dir / fmt::format("replaced-{}", utc_stamp());
    fs::rename(target, old);
  }
  fs::create_directories(target.parent_path());
  fs::rename(dir, target);
  fsync_dir(target.parent_path());
  if (!old.empty()) fs::remove_all(old, ec);
  force_bootstrap = false;
  open_db();
  std::lock_guard lock(mutex);
  ++bootstraps;
  spdlog::info(
      "replication: bootstrap complete: {} files, {} MiB in {:.1f} s ({:.0f} MiB/s); "
      "following from sequence {}",
      files, bytes >> 20, seconds,
      seconds > 0 ? static_cast<double>(bytes) / 1048576.0 / seconds : 0.0, sequence + 1);
}

void mirror::impl::quarantine(std::uint64_t fork, std::uint16_t primary_epoch) {
  open_db();
  if (!db) throw wire::error("diverged without a database");
  const std::uint64_t last = db->db()->GetLatestSequenceNumber();
  const fs::path dir = options.work_dir / "quarantine" /
                       fmt::format("{}-epoch{}-after-seq{}", utc_stamp(), epoch, fork);
  fs::create_directories(dir);
  // The batches after the fork, in the wire's frame format (header + u64
  // first sequence + WriteBatch bytes), for an administrator to inspect.
  std::uint64_t batches = 0, first_kept = 0;
  {
    std::ofstream out(dir / "tail.batches", std::ios::binary);
    std::unique_ptr<rocksdb::TransactionLogIterator> it;
    if (db->db()->GetUpdatesSince(fork + 1, &it).ok()) {
      for (; it->Valid(); it->Next()) {
        auto b = it->GetBatch();
        if (b.sequence + b.writeBatchPtr->Count() <= fork + 1) continue;
        if (!first_kept) first_kept = b.sequence;
        const std::string payload = msg::encode(msg::batch{b.sequence, b.writeBatchPtr->Data()});
        out << wire::encode_header(wire::type::batch, payload) << payload;
        ++batches;
      }
    }
  }
  const std::uint16_t old_epoch = epoch;
  db.reset();
  fs::rename(options.store.path, dir / "db");
  fsync_dir(dir);
  {
    std::ofstream readme(dir / "README.txt");
    readme << fmt::format(
        "This node was the primary of epoch {} and wrote sequences {}..{} after the point\n"
        "(sequence {}) where the current primary's history (epoch {}) begins. Those writes\n"
        "were never replicated and are not on the current primary. The whole database as it\n"
        "was is in db/; the batches after the fork are in tail.batches ({} batches{}).\n"
        "packmail did not merge anything; this node bootstraps again from the primary.\n",
        old_epoch, fork + 1, last, fork, primary_epoch, batches,
        first_kept && first_kept != fork + 1 ? ", the first ones already purged from the WAL" : "");
  }
  spdlog::error(
      "replication: this node diverged from the primary after sequence {}: "
      "sequences {}..{} ({} batches) it wrote as primary of epoch {} were never "
      "replicated; kept in {}; bootstrapping again",
      fork, fork + 1, last, batches, old_epoch, dir.string());
  std::lock_guard lock(mutex);
  sequence = 0;
  epoch = 0;
}

void mirror::impl::tail(wire::connection& c) {
  open_db();
  if (!db) throw wire::error("no database to follow with");
  std::uint64_t latest = db->db()->GetLatestSequenceNumber();
  std::uint16_t my_epoch = 0;
  {
    std::lock_guard lock(mutex);
    state = "tailing";
    my_epoch = epoch;
  }
  spdlog::info("replication: following {}:{} from sequence {}", options.primary_host,
               options.primary_port, latest + 1);
  c.send(wire::type::ack, msg::encode_ack(latest));
  followed = true;
  bool pending_ack = false;
  // Verifications in progress; joined before the database can be closed.
  struct joiner {
    std::vector<std::thread> threads;
    ~joiner() {
      for (auto& t : threads) t.join();
    }
  } running;
  auto& verifiers = running.threads;
  while (!stopping) {
    auto f = c.receive(k_primary_silence);
    if (!f) throw wire::error("nothing from the primary for 10 s");
    switch (f->kind) {
      case wire::type::batch: {
        const auto m = msg::decode_batch(f->payload);
        const auto first = m.first;
        rocksdb::WriteBatch batch{std::string(m.data)};
        const std::uint64_t count = batch.Count();
        // Continuity on every batch (section 3): the mirror stays an exact
        // prefix of the primary's history.
        if (first != latest + 1 || count == 0) {
          throw wire::error(fmt::format("batch at sequence {} ({} records) does not follow {}",
                                        first, count, latest));
        }
        const auto stamp = read_stamp(batch);
        if (stamp && stamp->epoch < my_epoch) {
          throw wire::error(fmt::format("batch of epoch {} is older than this node's epoch {}",
                                        stamp->epoch, my_epoch));
        }
        if (stamp) my_epoch = std::max(my_epoch, stamp->epoch);
        rocksdb::WriteOptions wo;  // synced below, before the acknowledgement
        if (auto s = db->db()->Write(wo, &batch); !s.ok()) {
          throw wire::error("applying a batch: " + s.ToString());
        }
        latest = db->db()->GetLatestSequenceNumber();
        if (latest != first + count - 1) {
          throw wire::error(fmt::format("applied batch {} ended at sequence {}, expected {}", first,
                                        latest, first + count - 1));
        }
        std::lock_guard lock(mutex);
        sequence = latest;
        epoch = my_epoch;
        if (stamp) applied_commit_ms = stamp->commit_ms;
        primary_sequence = std::max(primary_sequence, latest);
        pending_ack = true;
        break;
      }
      case wire::type::heartbeat: {
        const auto seq = msg::decode_heartbeat(f->payload).sequence;
        std::lock_guard lock(mutex);
        primary_sequence = seq;
        pending_ack = true;
        break;
      }
      case wire::type::verify: {
        const auto request = msg::decode_verify(f->payload);
        const auto id = request.id;
        const auto at = request.sequence;
        if (at != latest) {
          const auto answer = nlohmann::json{
              {"error", fmt::format("the mirror is at sequence {}, asked for {}", latest, at)}};
          c.send(wire::type::digests, msg::encode(msg::digests{id, answer.dump()}));
          break;
        }
        // The snapshot pins sequence `at`; the digests (every body read) are
        // computed beside the apply loop, which goes on acknowledging.
        const rocksdb::Snapshot* snapshot = db->db()->GetSnapshot();
        verifiers.emplace_back([&c, id, snapshot, ref = db->ref()] {
          auto d = sdb::digests(ref, snapshot);
          ref.db->ReleaseSnapshot(snapshot);
          const auto answer =
              d.ok() ? nlohmann::json(d.value()) : nlohmann::json{{"error", d.error().to_string()}};
          try {
            c.send(wire::type::digests, msg::encode(msg::digests{id, answer.dump()}));
          } catch (const std::exception&) {
            // The connection is gone; the primary reports the verification failed.
          }
        });
        break;
      }
      case wire::type::resync:
        spdlog::warn("replication: the primary: {}", msg::decode_text(f->payload));
        force_bootstrap = true;
        return;
      case wire::type::error:
        throw wire::error("the primary: " + msg::decode_text(f->payload));
      default:
        throw wire::error("unexpected message while following");
    }
    // Acknowledge once nothing more is waiting: one WAL sync covers all the
    // batches received together.
    if (pending_ack && !c.readable_now()) {
      if (auto s = db->db()->SyncWAL(); !s.ok())
        throw wire::error("syncing the WAL: " + s.ToString());
      c.send(wire::type::ack, msg::encode_ack(latest));
      pending_ack = false;
    }
  }
}

mirror::mirror(mirror_options options) : impl_(std::make_unique<impl>(std::move(options))) {
  std::error_code ec;
  fs::create_directories(impl_->options.work_dir, ec);
  impl_->thread = std::thread([this] { impl_->run(); });
}

mirror::~mirror() { impl_->stop(); }

nlohmann::json mirror::status() const {
  std::lock_guard lock(impl_->mutex);
  const std::uint64_t behind =
      impl_->primary_sequence > impl_->sequence ? impl_->primary_sequence - impl_->sequence : 0;
  nlohmann::json j{
      {"role", "mirror"},
      {"state", impl_->state},
      {"primary", fmt::format("{}:{}", impl_->options.primary_host, impl_->options.primary_port)},
      {"epoch", impl_->epoch},
      {"sequence", impl_->sequence},
      {"primary_sequence", impl_->primary_sequence},
      {"bootstraps", impl_->bootstraps},
      {"lag",
       {{"sequences", behind},
        {"seconds",
         behind && impl_->applied_commit_ms ? seconds_since(impl_->applied_commit_ms) : 0.0}}}};
  if (!impl_->last_error.empty()) j["last_error"] = impl_->last_error;
  if (impl_->state == "bootstrap") {
    j["bootstrap"] = transfer_progress(impl_->boot_total, impl_->boot_received, impl_->boot_start);
  }
  return j;
}

storage::result<std::uint16_t> mirror::promote() {
  impl_->stop();
  return promote_offline(impl_->options.store);
}

storage::result<std::uint16_t> promote_offline(const storage::segment_options& store) {
  auto d = sdb::database::open(store);
  if (!d.ok()) {
    return storage::status(
        errc::not_found,
        "no database to promote (the mirror never completed a bootstrap): " + d.error().message());
  }
  auto e = sdb::begin_epoch(d.value()->ref());
  if (e.ok()) {
    spdlog::info("replication: promoted to primary of epoch {} at sequence {}", e.value(),
                 d.value()->db()->GetLatestSequenceNumber());
  }
  return e;
}

}  // namespace packmail::replication
