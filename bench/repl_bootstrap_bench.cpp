// repl_bootstrap_bench: rebuilding a mirror with replication's checkpoint
// bootstrap against copying the same mail the old way, and what replication
// costs the primary's clients.
//
// In one run, on one filesystem:
//
// 1. Setup (cached under <build>/bench-data, see --cache): --messages
//    generated messages of about 800 bytes (common/message_generator.h),
//    message i to the INBOX of user (i mod --users), written directly into a
//    segment store (open_segment_store, sync = false; background compactions
//    settled, then closed, which flushes), the same messages one file each in
//    a maildir-like tree (<user>/cur/), and one file of the same total size.
//    The users are in a passwd-file (PLAIN) for the IMAP logins.
// 2. Bootstrap: packmaild as primary on a copy of that store (SST and blob
//    files hard-linked; --replication-mode async, so it needs no mirror), and
//    an empty mirror (--replicate-from). Timed from the mirror's start until
//    its status says "tailing" at a sequence at least the primary's at the
//    start. Cold (page cache dropped first) and warm (the primary's store
//    read into the page cache first). The page cache residency of the store's
//    files is printed before and after: the sender drops only the pages it
//    brought in, so a bootstrap must leave the store's cached pages alone.
// 3. The old way: `rsync -a` of the tree and `cp` of the one file to fresh
//    directories, cold and warm; the sync that writes each copy back is timed
//    apart (the bootstrap's fdatasync of every file is inside its time).
// 4. IMAP latency on the primary: --imap-clients clients, each logged in
//    once, then SELECT INBOX and UID FETCH of --fetch random messages'
//    BODY.PEEK[] in a loop; per command p50/p99 without a bootstrap
//    (baseline) and while bootstraps run (repeated until --latency-samples).
// 5. Steady state: the primary restarted with --replication-mode sync and the
//    last mirror tailing; --connections LMTP connections deliver for
//    --ingest-seconds while the primary's replication status is read every
//    100 ms: deliveries/s and the mirror's lag (sequences, seconds).
//
// Targets (issue): bootstrap MiB/s cold >= 0.5x cp's cold; bootstrap >= 25x
// faster than rsync of the one-file-per-message tree, cold; IMAP p99 during a
// bootstrap <= 1.5x the baseline p99.
//
// Quick run: repl_bootstrap_bench --messages 20000 (about a minute).

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <spdlog/spdlog.h>

#include "common/comparison.h"
#include "common/load.h"
#include "packmail/storage/segment_replication.h"
#include "packmail/storage/store.h"

namespace packmail::bench {
namespace {

namespace st = packmail::storage;
using json = nlohmann::ordered_json;
using steady = std::chrono::steady_clock;

// The targets of the issue.
constexpr double k_target_cp_ratio = 0.5;       // bootstrap MiB/s >= 0.5x cp's, cold
constexpr double k_target_rsync_speedup = 25;   // bootstrap >= 25x faster than rsync, cold
constexpr double k_target_latency_ratio = 1.5;  // IMAP p99 during a bootstrap <= 1.5x baseline

constexpr auto k_status_poll = std::chrono::milliseconds(20);
constexpr auto k_lag_poll = std::chrono::milliseconds(100);
constexpr auto k_bootstrap_timeout = std::chrono::minutes(60);

struct options {
  std::uint64_t messages = 1000000;
  unsigned users = 100;
  std::size_t mean_size = 800;
  std::uint64_t seed = 1;
  std::string cache;  // empty: <build>/bench-data
  bool no_cache = false;
  unsigned setup_threads = 4;
  unsigned imap_clients = 1;
  unsigned fetch = 5;
  double latency_seconds = 5;
  std::size_t latency_samples = 500;
  unsigned max_bootstraps = 10;
  double ingest_seconds = 20;
  unsigned connections = 8;
  std::string packmaild, packmailctl;
  bool keep = false;
};

double seconds_since(steady::time_point start) {
  return std::chrono::duration<double>(steady::now() - start).count();
}

std::string mib(double bytes) { return fmt::format("{:.1f} MiB", bytes / (1 << 20)); }
double mib_per_s(double bytes, double seconds) {
  return seconds > 0 ? bytes / (1 << 20) / seconds : 0;
}

// Nearest-rank percentile of unsorted values (copied); 0 when empty.
double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  rank = std::clamp<std::size_t>(rank, 1, v.size());
  return v[rank - 1];
}

std::string first_line(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

// The regular files directly in a segment store's directory that a
// checkpoint holds (SST, blob, MANIFEST, OPTIONS, CURRENT, WAL): not the
// info logs (LOG, LOG.old.*) nor the WAL archive.
std::uint64_t checkpointed_bytes(const fs::path& db, std::uint64_t* files = nullptr) {
  std::uint64_t bytes = 0, count = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(db, ec)) {
    if (!e.is_regular_file(ec) || e.path().filename().string().starts_with("LOG")) continue;
    bytes += e.file_size(ec);
    ++count;
  }
  if (files) *files = count;
  return bytes;
}

// Lines of a log file that contain `needle`.
std::uint64_t count_lines(const fs::path& file, std::string_view needle) {
  std::ifstream in(file);
  std::string line;
  std::uint64_t n = 0;
  while (std::getline(in, line)) n += line.find(needle) != std::string::npos;
  return n;
}

bool immutable_file(const fs::path& p) {
  return p.extension() == ".sst" || p.extension() == ".blob";
}

// Bytes of the store's SST and blob files now in the page cache (mincore).
std::uint64_t resident_bytes(const fs::path& db) {
  const long page = sysconf(_SC_PAGESIZE);
  std::uint64_t resident = 0;
  std::error_code ec;
  std::vector<unsigned char> vec;
  for (const auto& e : fs::directory_iterator(db, ec)) {
    if (!e.is_regular_file(ec) || !immutable_file(e.path())) continue;
    const std::uint64_t size = e.file_size(ec);
    if (size == 0) continue;
    const int fd = open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    void* map = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) continue;
    const std::size_t pages = (size + page - 1) / page;
    vec.resize(pages);
    if (mincore(map, size, vec.data()) == 0) {
      for (unsigned char v : vec) resident += (v & 1) ? page : 0;
    }
    munmap(map, size);
  }
  return resident;
}

// Reads the store's SST and blob files (into the page cache).
void read_files(const fs::path& db) {
  std::vector<char> buf(1 << 20);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(db, ec)) {
    if (!e.is_regular_file(ec) || !immutable_file(e.path())) continue;
    const int fd = open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    while (read(fd, buf.data(), buf.size()) > 0) {
    }
    close(fd);
  }
}

// A copy of a closed segment store: SST and blob files (never modified once
// written) hard-linked, everything else copied; a copy where links fail.
void clone_store(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  for (const auto& e : fs::directory_iterator(from)) {
    if (!e.is_regular_file()) continue;
    const fs::path target = to / e.path().filename();
    std::error_code ec;
    if (immutable_file(e.path())) {
      fs::create_hard_link(e.path(), target, ec);
      if (!ec) continue;
    }
    fs::copy_file(e.path(), target, fs::copy_options::overwrite_existing);
  }
}

// --- the admin API ---------------------------------------------------------------------

// GET `target` on the admin listener at 127.0.0.1:port; the JSON body of a
// 200 answer, else nullopt (not listening yet, refused, not JSON).
std::optional<json> admin_get(std::uint16_t port, const std::string& token,
                              const std::string& target = "/api/replication") {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return std::nullopt;
  }
  const std::string request = fmt::format(
      "GET {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {}\r\nConnection: "
      "close\r\n\r\n",
      target, port, token);
  bool ok = send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size());
  std::string reply;
  char buf[8192];
  ssize_t n = 0;
  while (ok && ((n = recv(fd, buf, sizeof buf, 0)) > 0 || (n < 0 && errno == EINTR))) {
    if (n > 0) reply.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  const auto body = reply.find("\r\n\r\n");
  if (!ok || !reply.starts_with("HTTP/1.1 200") || body == std::string::npos) return std::nullopt;
  json j = json::parse(reply.substr(body + 4), nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

// --- packmaild nodes -------------------------------------------------------------------

// One packmaild, primary or mirror, on fixed loopback ports.
struct node {
  std::string name;
  fs::path dir;  // its data directory
  fs::path log;
  pid_t pid = -1;
  std::uint16_t imap = 0, lmtp = 0, admin = 0;
  std::string token;  // <dir>/admin.token, read once it exists

  node() = default;
  node(const node&) = delete;
  node& operator=(const node&) = delete;
  ~node() { stop(); }

  void start(const fs::path& packmaild, const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {packmaild.string(),
                                     "--data-dir",
                                     dir.string(),
                                     "--users",
                                     (dir / "users").string(),
                                     "--imap",
                                     fmt::format("127.0.0.1:{}", imap),
                                     "--lmtp",
                                     fmt::format("127.0.0.1:{}", lmtp),
                                     "--admin",
                                     fmt::format("127.0.0.1:{}", admin),
                                     "--imaps",
                                     "off",
                                     "--pop3",
                                     "off",
                                     "--pop3s",
                                     "off",
                                     "--lmtp-socket",
                                     "off"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    token.clear();
    pid = start_process(argv, log);
  }

  // Not exited yet (not reaped: stop() does that).
  bool alive() const {
    if (pid <= 0) return false;
    siginfo_t info{};
    return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == 0;
  }

  std::optional<json> status() {
    if (token.empty()) {
      std::error_code ec;
      if (!fs::exists(dir / "admin.token", ec)) return std::nullopt;
      token = first_line(dir / "admin.token");
      if (token.empty()) return std::nullopt;
    }
    auto s = admin_get(admin, token);
    if (!s) token.clear();  // read it again next time (it may have been half written)
    return s;
  }

  void stop() {
    if (pid > 0) stop_process(pid, std::chrono::seconds(60));
    pid = -1;
  }

  std::string failure(const std::string& what) const {
    return fmt::format("{}: {}; {}:\n{}", name, what, log.string(), tail_file(log));
  }
};

// --- 1. the data set -------------------------------------------------------------------

struct dataset {
  fs::path dir;  // the cache entry (or a scratch directory)
  fs::path db, users_file, maildir, onefile;
  bench_users users;
  std::uint64_t payload_bytes = 0;
  bool cached = false;
  json setup;                           // figures of the run that made it
  std::vector<std::uint32_t> per_user;  // messages in each user's INBOX

  fs::path marker() const { return dir / "setup.json"; }
};

std::string user_name(unsigned i) { return fmt::format("user{:04}", i); }

json dataset_key(const options& o) {
  return {{"messages", o.messages}, {"users", o.users}, {"size", o.mean_size}, {"seed", o.seed}};
}

bool load_cached(const options& o, dataset& d) {
  std::ifstream in(d.marker());
  if (!in) return false;
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.value("complete", false)) return false;
  const json key = dataset_key(o);
  for (auto it = key.begin(); it != key.end(); ++it) {
    if (!j.contains(it.key()) || j[it.key()] != it.value()) return false;
  }
  std::error_code ec;
  for (const auto& p : {d.db / "CURRENT", d.users_file, d.onefile, d.maildir}) {
    if (!fs::exists(p, ec)) return false;
  }
  d.payload_bytes = j.value("payload_bytes", std::uint64_t{0});
  if (fs::file_size(d.onefile, ec) != d.payload_bytes) return false;
  d.setup = j;
  d.cached = true;
  return true;
}

// Waits until the store has no flush or compaction running or pending: the
// state a long-running server would be in.
double settle(st::mail_store& store) {
  const auto start = steady::now();
  auto ref = st::segment_db::of_store(store);
  if (!ref) return 0;
  (void)ref.db->Flush(rocksdb::FlushOptions(), ref.handles);
  for (;;) {
    bool busy = false;
    for (auto* h : ref.handles) {
      for (const char* p : {"rocksdb.compaction-pending", "rocksdb.num-running-compactions",
                            "rocksdb.mem-table-flush-pending", "rocksdb.num-running-flushes"}) {
        std::uint64_t v = 0;
        if (ref.db->GetIntProperty(h, p, &v) && v > 0) busy = true;
      }
    }
    if (!busy) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return seconds_since(start);
}

void generate(const options& o, const bench_setup& setup, dataset& d) {
  std::error_code ec;
  fs::remove_all(d.dir, ec);
  fs::create_directories(d.dir);
  fmt::print(stderr, "setup: generating {} messages into {}\n", o.messages, d.dir.string());
  d.users = create_users(setup.packmailctl, d.users_file, o.users, "PLAIN");

  st::segment_options so;
  so.path = d.db;
  so.sync = false;  // bulk load; closing flushes
  auto opened = st::open_segment_store(so);
  if (!opened) throw std::runtime_error("open_segment_store: " + opened.error().to_string());
  std::unique_ptr<st::mail_store> store = std::move(opened.value());
  std::vector<st::mailbox_id> inbox(o.users);
  for (unsigned u = 0; u < o.users; ++u) {
    auto user = store->ensure_user(d.users.names[u]);
    if (!user) throw std::runtime_error("ensure_user: " + user.error().to_string());
    auto mailbox = store->get_mailbox(*user, "INBOX");
    if (!mailbox) throw std::runtime_error("get_mailbox: " + mailbox.error().to_string());
    inbox[u] = mailbox->id;
    fs::create_directories(d.maildir / d.users.names[u] / "cur");
    fs::create_directories(d.maildir / d.users.names[u] / "new");
    fs::create_directories(d.maildir / d.users.names[u] / "tmp");
  }

  const message_generator generator(o.seed, o.mean_size);
  std::atomic<std::uint64_t> next{0}, done{0}, payload{0};
  std::mutex error_mutex;
  std::string first_error;
  std::atomic<bool> stop{false};
  const auto start = steady::now();
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < o.setup_threads; ++t) {
    threads.emplace_back([&] {
      std::string path;
      while (!stop) {
        const std::uint64_t i = next.fetch_add(1);
        if (i >= o.messages) break;
        const unsigned u = static_cast<unsigned>(i % o.users);
        const std::string message = generator.message(i, d.users.names[u] + "@example.com");
        st::append_request request;
        request.message = message;
        request.targets.resize(1);
        request.targets[0].mailbox = inbox[u];
        auto appended = store->append(request);
        std::string error;
        if (!appended) error = "append: " + appended.error().to_string();
        // The maildir's name as Dovecot writes it: unique, size, flags.
        path = fmt::format("{}/{}/cur/{}.M0P0Q{}.bench,S={}:2,", d.maildir.string(),
                           d.users.names[u], 1700000000 + i / 1000, i, message.size());
        const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 ||
            write(fd, message.data(), message.size()) != static_cast<ssize_t>(message.size())) {
          error = fmt::format("writing {}: {}", path, std::strerror(errno));
        }
        if (fd >= 0) close(fd);
        if (!error.empty()) {
          std::lock_guard lock(error_mutex);
          if (first_error.empty()) first_error = error;
          stop = true;
          break;
        }
        payload += message.size();
        ++done;
      }
    });
  }
  std::thread progress([&] {
    auto last = steady::now();
    while (done < o.messages && !stop) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (seconds_since(last) >= 10) {
        last = steady::now();
        fmt::print(stderr, "  setup: {}/{} messages, {:.0f} s\n", done.load(), o.messages,
                   seconds_since(start));
      }
    }
  });
  for (auto& t : threads) t.join();
  stop = true;
  progress.join();
  if (!first_error.empty()) throw std::runtime_error("setup: " + first_error);
  const double ingest_seconds = seconds_since(start);
  fmt::print(stderr, "setup: {} messages in {:.1f} s; waiting for compactions\n", o.messages,
             ingest_seconds);
  const double settle_seconds = settle(*store);
  const auto close_start = steady::now();
  store.reset();
  const double close_seconds = seconds_since(close_start);

  // One file of the same bytes, for cp.
  {
    std::ofstream out(d.onefile, std::ios::binary | std::ios::trunc);
    for (std::uint64_t i = 0; i < o.messages; ++i) {
      out << generator.message(i, d.users.names[i % o.users] + "@example.com");
    }
    if (!out) throw std::runtime_error("writing " + d.onefile.string());
  }
  sync();
  d.payload_bytes = payload;
  d.setup = dataset_key(o);
  d.setup["payload_bytes"] = d.payload_bytes;
  d.setup["ingest_seconds"] = ingest_seconds;
  d.setup["ingest_messages_per_second"] = o.messages / std::max(ingest_seconds, 1e-9);
  d.setup["settle_seconds"] = settle_seconds;
  d.setup["close_seconds"] = close_seconds;
  d.setup["total_seconds"] = seconds_since(start);
  d.setup["setup_threads"] = o.setup_threads;
  d.setup["date"] = utc_now();
  d.setup["complete"] = true;
  std::ofstream(d.marker()) << d.setup.dump(2) << "\n";
  fmt::print(stderr, "setup: done in {:.1f} s\n", seconds_since(start));
}

dataset prepare_dataset(const options& o, const bench_setup& setup, const fs::path& root) {
  dataset d;
  d.dir = root / fmt::format("m{}-u{}-s{}-seed{}", o.messages, o.users, o.mean_size, o.seed);
  d.db = d.dir / "db";
  d.users_file = d.dir / "users";
  d.maildir = d.dir / "maildir";
  d.onefile = d.dir / "onefile";
  if (!load_cached(o, d)) generate(o, setup, d);
  d.users.names.clear();
  for (unsigned u = 0; u < o.users; ++u) d.users.names.push_back(user_name(u));
  d.users.scheme = "PLAIN";
  d.users.file = d.users_file;
  for (unsigned u = 0; u < o.users; ++u) {
    d.per_user.push_back(
        static_cast<std::uint32_t>(o.messages / o.users + (u < o.messages % o.users ? 1 : 0)));
  }
  return d;
}

// --- 3. the old way --------------------------------------------------------------------

struct copy_run {
  bool ran = false;
  bool cold = false;
  std::string cache_note;  // why it is not cold
  double seconds = 0;
  double sync_seconds = 0;  // writing the copy back, after it
  std::string error;
};

copy_run timed_copy(const std::vector<std::string>& argv, bool cold) {
  copy_run r;
  r.ran = true;
  if (cold) {
    if (auto why = drop_page_cache()) {
      r.cache_note = *why;
    } else {
      r.cold = true;
    }
  } else {
    sync();
  }
  std::string out;
  const auto start = steady::now();
  const int rc = run_command(argv, "", &out);
  r.seconds = seconds_since(start);
  if (rc != 0) r.error = fmt::format("{} exited with {}: {}", argv[0], rc, out.substr(0, 500));
  const auto sync_start = steady::now();
  sync();
  r.sync_seconds = seconds_since(sync_start);
  return r;
}

struct old_way {
  copy_run rsync_cold, rsync_warm, cp_cold, cp_warm;
  std::string rsync_version;
};

old_way copy_the_old_way(const dataset& d, const fs::path& scratch) {
  old_way w;
  std::string out;
  if (run_command({"rsync", "--version"}, "", &out) != 0) {
    w.rsync_cold.error = w.rsync_warm.error =
        "rsync is not installed (apt-get install rsync; scripts/install-deps.sh)";
    w.rsync_cold.ran = w.rsync_warm.ran = true;
  } else {
    w.rsync_version = out.substr(0, out.find('\n'));
    for (bool cold : {true, false}) {
      const fs::path to = scratch / (cold ? "rsync-cold" : "rsync-warm");
      fmt::print(stderr, "old way: rsync -a {} ({})...\n", d.maildir.string(),
                 cold ? "cold" : "warm");
      // The copies stay until the end: removing many files here slows the
      // writes that follow (see start_empty_mirror).
      (cold ? w.rsync_cold : w.rsync_warm) =
          timed_copy({"rsync", "-a", d.maildir.string() + "/", to.string() + "/"}, cold);
    }
  }
  for (bool cold : {true, false}) {
    const fs::path to = scratch / (cold ? "cp-cold" : "cp-warm");
    fmt::print(stderr, "old way: cp {} ({})...\n", d.onefile.string(), cold ? "cold" : "warm");
    (cold ? w.cp_cold : w.cp_warm) = timed_copy({"cp", d.onefile.string(), to.string()}, cold);
  }
  sync();
  return w;
}

// --- 2. bootstraps ---------------------------------------------------------------------

struct bootstrap_run {
  std::string name;
  bool cold = false;
  std::string cache_note;
  std::uint64_t start_sequence = 0;
  double seconds = 0;  // mirror start -> tailing at start_sequence
  // The mirror's log line "bootstrap complete: N files, X MiB in Y s (Z MiB/s)":
  // the transfer alone (after the checkpoint, before opening the database).
  std::optional<std::uint64_t> log_files;
  double log_mib = 0, log_seconds = 0, log_mib_per_s = 0;
  double primary_cpu_seconds = 0, mirror_cpu_seconds = 0;
  double machine_busy_percent = 0;
  // The primary's SST and blob pages in the page cache before it started
  // (after the store was read, for the warm run) and once it was tailing.
  std::optional<std::uint64_t> resident_before, resident_after;
  std::vector<double> rate_limits;  // the primary's bootstrap_rate_limit while it ran
  std::string error;
};

struct cluster {
  const options& o;
  fs::path packmaild;
  fs::path scratch;
  const dataset& data;
  node primary;
  node mirror;
  std::uint16_t replication_port = 0;
  unsigned mirrors_started = 0;

  cluster(const options& opts, const bench_setup& setup, const dataset& d)
      : o(opts), packmaild(setup.packmaild), scratch(setup.scratch.path()), data(d) {
    primary.name = "primary";
    primary.dir = scratch / "primary";
    primary.imap = free_port();
    primary.lmtp = free_port();
    primary.admin = free_port();
    replication_port = free_port();
    mirror.name = "mirror";
    mirror.imap = free_port();
    mirror.lmtp = free_port();
    mirror.admin = free_port();
  }

  fs::path primary_db() const { return primary.dir / "shards" / "default"; }

  void make_primary() {
    fmt::print(stderr, "primary: copying the store (hard links)...\n");
    clone_store(data.db, primary_db());
    fs::copy_file(data.users_file, primary.dir / "users", fs::copy_options::overwrite_existing);
  }

  void start_primary(const std::string& mode) {
    primary.log = scratch / fmt::format("primary-{}.log", mode);
    primary.start(packmaild, {"--replication", fmt::format("127.0.0.1:{}", replication_port),
                              "--replication-mode", mode});
    if (!wait_for_greeting(primary.imap, primary.pid, std::chrono::seconds(300))) {
      throw std::runtime_error(primary.failure("did not come up"));
    }
    for (int i = 0; i < 250 && !primary.status(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!primary.status()) throw std::runtime_error(primary.failure("no replication status"));
  }

  std::uint64_t primary_sequence() {
    auto s = primary.status();
    if (!s) throw std::runtime_error(primary.failure("no replication status"));
    return (*s)["sequence"].get<std::uint64_t>();
  }

  // Stops the mirror running (if any) and starts a new one in a new, empty
  // data directory. The old ones stay until the end: on this ext4 (mounted
  // with discard) freeing many blocks slows every write for tens of seconds.
  void start_empty_mirror() {
    mirror.stop();
    ++mirrors_started;
    mirror.dir = scratch / fmt::format("mirror-{}", mirrors_started);
    std::error_code ec;
    fs::create_directories(mirror.dir);
    fs::copy_file(primary.dir / "replication.secret", mirror.dir / "replication.secret");
    fs::permissions(mirror.dir / "replication.secret",
                    fs::perms::owner_read | fs::perms::owner_write, ec);
    fs::copy_file(data.users_file, mirror.dir / "users");
    mirror.log = scratch / fmt::format("mirror-{}.log", mirrors_started);
    mirror.start(packmaild, {"--replicate-from", fmt::format("127.0.0.1:{}", replication_port)});
  }

  // Polls the mirror until it is tailing at `sequence` or later; every 100 ms
  // also `on_primary(status)` with the primary's status. Returns the seconds
  // since `start`.
  double wait_tailing(std::uint64_t sequence, steady::time_point start,
                      const std::function<void(const json&)>& on_primary = {}) {
    auto last_primary = steady::time_point{};
    for (;;) {
      if (!mirror.alive()) throw std::runtime_error(mirror.failure("exited"));
      if (seconds_since(start) > std::chrono::duration<double>(k_bootstrap_timeout).count()) {
        throw std::runtime_error(mirror.failure("not tailing after 60 minutes"));
      }
      if (auto s = mirror.status()) {
        if ((*s).value("state", "") == "tailing" && (*s).value("sequence", 0ull) >= sequence) {
          return seconds_since(start);
        }
      }
      if (on_primary && steady::now() - last_primary >= k_lag_poll) {
        last_primary = steady::now();
        if (auto p = primary.status()) on_primary(*p);
      }
      std::this_thread::sleep_for(k_status_poll);
    }
  }

  // The mirror's own figures from its log.
  void read_mirror_log(bootstrap_run& r) const {
    std::ifstream in(mirror.log);
    std::string line;
    // "bootstrap complete: N files, M MiB in S s (R MiB/s)"
    constexpr std::string_view marker = "bootstrap complete: ";
    while (std::getline(in, line)) {
      const auto at = line.find(marker);
      if (at == std::string::npos) continue;
      unsigned long long files = 0, mib = 0;
      double seconds = 0, rate = 0;
      if (std::sscanf(line.c_str() + at + marker.size(),
                      "%llu files, %llu MiB in %lf s (%lf MiB/s)", &files, &mib, &seconds,
                      &rate) == 4) {
        r.log_files = files;
        r.log_mib = static_cast<double>(mib);
        r.log_seconds = seconds;
        r.log_mib_per_s = rate;
      }
    }
  }

  // One timed bootstrap of an empty mirror.
  bootstrap_run bootstrap(const std::string& name, bool cold,
                          const std::function<void(const json&)>& on_primary = {}) {
    bootstrap_run r;
    r.name = name;
    r.cold = cold;
    mirror.stop();
    r.start_sequence = primary_sequence();
    if (cold) {
      if (auto why = drop_page_cache()) {
        r.cache_note = *why;
        r.cold = false;
      }
    } else {
      sync();
    }
    const double primary_cpu = tree_cpu_seconds(primary.pid);
    const machine_ticks ticks = read_machine_ticks();
    const auto start = steady::now();
    start_empty_mirror();
    r.seconds = wait_tailing(r.start_sequence, start, on_primary);
    r.primary_cpu_seconds = tree_cpu_seconds(primary.pid) - primary_cpu;
    r.mirror_cpu_seconds = tree_cpu_seconds(mirror.pid);
    r.machine_busy_percent = busy_percent(ticks, read_machine_ticks());
    read_mirror_log(r);
    return r;
  }
};

// --- 4. IMAP latency -------------------------------------------------------------------

// after_bootstrap: the same length as the baseline, right after the last
// bootstrap (no more transfer, but whatever it evicted is not back yet).
enum phase : int { idle = 0, baseline = 1, during_bootstrap = 2, after_bootstrap = 3 };

struct latency_figures {
  latency_recorder all[4], select[4], fetch[4];
  std::atomic<std::uint64_t> bootstrap_samples{0};
  std::uint64_t errors = 0;
  std::string first_error;
};

// Runs the IMAP clients on their own io_context thread until `stop`; the
// commands that start and end in the same phase (other than idle) count.
class imap_loop {
 public:
  imap_loop(const options& o, const dataset& d, std::uint16_t port, latency_figures& f)
      : o_(o), d_(d), endpoint_(asio::ip::address_v4::loopback(), port), f_(f) {}
  ~imap_loop() { stop(); }
  imap_loop(const imap_loop&) = delete;
  imap_loop& operator=(const imap_loop&) = delete;

  void start() {
    thread_ = std::thread([this] {
      asio::io_context io(1);
      deadline_watchdog watchdog(io.get_executor());
      std::string escaped;
      run_all(
          io, watchdog, o_.imap_clients,
          [&](unsigned index) { return client(io, watchdog, index); }, escaped);
      if (!escaped.empty() && f_.first_error.empty()) f_.first_error = escaped;
    });
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::atomic<int> phase{idle};

 private:
  void record(int before, steady::duration took, latency_recorder* per_command) {
    if (before == idle || phase.load() != before) return;
    per_command[before].add(took);
    f_.all[before].add(took);
    if (before == during_bootstrap) ++f_.bootstrap_samples;
  }

  asio::awaitable<void> client(asio::io_context& io, deadline_watchdog& watchdog, unsigned index) {
    const unsigned u = index % static_cast<unsigned>(d_.users.names.size());
    const std::string& user = d_.users.names[u];
    const std::uint32_t messages = std::max<std::uint32_t>(1, d_.per_user[u]);
    std::mt19937_64 rng(o_.seed * 7919 + index);
    std::uniform_int_distribution<std::uint32_t> pick(1, messages);
    line_connection c(io.get_executor(), watchdog);
    imap_client imap(c);
    try {
      co_await c.connect(endpoint_);
      co_await imap.greeting();
      const std::string login = "LOGIN " + imap_quote(user) + " " + imap_quote(d_.users.password);
      co_await imap.command(login);
      while (!stop_) {
        int before = phase.load();
        auto t0 = steady::now();
        co_await imap.command("SELECT INBOX");
        record(before, steady::now() - t0, f_.select);
        std::string uids;
        for (unsigned k = 0; k < o_.fetch; ++k) {
          uids += (k ? "," : "") + std::to_string(pick(rng));
        }
        const std::string fetch = "UID FETCH " + uids + " BODY.PEEK[]";
        before = phase.load();
        t0 = steady::now();
        co_await imap.command(fetch);
        record(before, steady::now() - t0, f_.fetch);
      }
      co_await imap.command("LOGOUT");
    } catch (const std::exception& e) {
      ++f_.errors;
      if (f_.first_error.empty()) f_.first_error = e.what();
    }
  }

  const options& o_;
  const dataset& d_;
  tcp::endpoint endpoint_;
  latency_figures& f_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// --- 5. steady-state lag ---------------------------------------------------------------

struct lag_figures {
  std::uint64_t delivered = 0, failed = 0;
  std::string first_error;
  double seconds = 0;
  latency_recorder latency;
  std::vector<double> lag_sequences, lag_seconds, lag_batches, lag_bytes;
  std::uint64_t polls = 0, polls_without_mirror = 0, polls_not_in_sync = 0;
  std::uint64_t mirror_disconnects = 0;  // "disconnected:" in the primary's log during the load
  std::uint64_t sequence_before = 0, sequence_after = 0;
  double catch_up_seconds = -1;  // after the load, until the mirror acknowledged everything
  std::uint64_t mirror_sequence = 0;
  double server_cpu_seconds = 0, mirror_cpu_seconds = 0, machine_busy_percent = 0;
  std::string error;
  double rate() const { return seconds > 0 ? delivered / seconds : 0; }
};

// LMTP deliveries over o.connections connections for o.ingest_seconds.
void deliver(const options& o, const dataset& d, std::uint16_t port, lag_figures& f,
             std::atomic<bool>& done) {
  // Message k (of this phase) goes to user k mod users; the pool repeats
  // every `pool.size()` messages, a multiple of the users.
  const message_generator generator(o.seed + 1, o.mean_size);
  const std::size_t pool_size = std::max<std::size_t>(1, 4000 / o.users) * o.users;
  std::vector<std::string> pool;
  for (std::size_t k = 0; k < pool_size; ++k) {
    pool.push_back(generator.message(o.messages + k, d.users.names[k % o.users] + "@example.com"));
  }
  const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
  asio::io_context io(1);
  deadline_watchdog watchdog(io.get_executor());
  std::uint64_t next = 0;
  bool stop = false;
  const auto deadline = steady::now() + std::chrono::duration_cast<steady::duration>(
                                            std::chrono::duration<double>(o.ingest_seconds));
  auto worker = [&](unsigned) -> asio::awaitable<void> {
    line_connection c(io.get_executor(), watchdog);
    lmtp_client lmtp(c);
    asio::steady_timer pause(io);
    bool connected = false;
    while (!stop && steady::now() < deadline) {
      bool failed = false;
      try {
        if (!connected) {
          co_await c.connect(endpoint);
          co_await lmtp.greeting();
          co_await lmtp.command("LHLO bench.example.org");
          connected = true;
        }
        const std::uint64_t k = next++;
        const std::string rcpt = d.users.names[k % o.users] + "@example.com";
        const std::string& message = pool[k % pool.size()];
        const auto t0 = steady::now();
        co_await lmtp.deliver("sender@example.org", rcpt, message);
        f.latency.add(steady::now() - t0);
        ++f.delivered;
      } catch (const service_unavailable&) {
        stop = true;
        throw;
      } catch (const std::exception& e) {
        // 451 while no mirror is in sync, among others: the message counts
        // as failed, and the connection starts afresh after a pause, as an
        // MTA would retry.
        ++f.failed;
        if (f.first_error.empty()) f.first_error = e.what();
        c.close();
        connected = false;
        failed = true;
      }
      if (failed) {
        pause.expires_after(std::chrono::milliseconds(100));
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      }
    }
    if (connected) {
      try {
        co_await lmtp.command("QUIT");
      } catch (const std::exception&) {
      }
    }
  };
  const auto start = steady::now();
  std::string escaped;
  run_all(io, watchdog, o.connections, worker, escaped);
  f.seconds = seconds_since(start);
  if (!escaped.empty()) f.error = escaped;
  done = true;
}

lag_figures steady_state(const options& o, cluster& c) {
  lag_figures f;
  fmt::print(stderr, "steady state: restarting the primary in sync mode...\n");
  c.primary.stop();
  c.start_primary("sync");
  // The mirror reconnects by itself (back-off up to 5 s).
  const auto wait_start = steady::now();
  for (;;) {
    auto s = c.primary.status();
    bool in_sync = false;
    if (s) {
      for (const auto& m : (*s)["mirrors"]) in_sync = in_sync || m.value("in_sync", false);
    }
    if (in_sync) break;
    if (!c.mirror.alive()) throw std::runtime_error(c.mirror.failure("exited"));
    if (seconds_since(wait_start) > 120) {
      throw std::runtime_error(c.primary.failure("no mirror in sync 120 s after the restart"));
    }
    std::this_thread::sleep_for(k_status_poll);
  }
  f.sequence_before = c.primary_sequence();
  fmt::print(stderr, "steady state: {} LMTP connections for {:.0f} s, lag read every {} ms\n",
             o.connections, o.ingest_seconds, k_lag_poll.count());
  std::atomic<bool> done{false};
  const std::uint64_t disconnects = count_lines(c.primary.log, "disconnected:");
  const double server_cpu = tree_cpu_seconds(c.primary.pid);
  const double mirror_cpu = tree_cpu_seconds(c.mirror.pid);
  const machine_ticks ticks = read_machine_ticks();
  std::thread load([&] { deliver(o, c.data, c.primary.lmtp, f, done); });
  auto next_poll = steady::now();
  while (!done) {
    next_poll += k_lag_poll;
    std::this_thread::sleep_until(next_poll);
    auto s = c.primary.status();
    ++f.polls;
    if (!s || (*s)["mirrors"].empty()) {
      ++f.polls_without_mirror;
      continue;
    }
    const json& m = (*s)["mirrors"][0];
    if (!m.value("in_sync", false)) ++f.polls_not_in_sync;
    const json& lag = m["lag"];
    f.lag_sequences.push_back(lag.value("sequences", 0.0));
    f.lag_seconds.push_back(lag.value("seconds", 0.0));
    f.lag_batches.push_back(lag.value("batches", 0.0));
    f.lag_bytes.push_back(lag.value("bytes", 0.0));
  }
  load.join();
  f.mirror_disconnects = count_lines(c.primary.log, "disconnected:") - disconnects;
  f.server_cpu_seconds = tree_cpu_seconds(c.primary.pid) - server_cpu;
  f.mirror_cpu_seconds = tree_cpu_seconds(c.mirror.pid) - mirror_cpu;
  f.machine_busy_percent = busy_percent(ticks, read_machine_ticks());
  // Until the mirror has acknowledged everything.
  const auto after = steady::now();
  while (seconds_since(after) < 60) {
    auto s = c.primary.status();
    if (s && !(*s)["mirrors"].empty()) {
      const json& m = (*s)["mirrors"][0];
      if (m.value("acked_sequence", 0ull) >= (*s).value("sequence", 0ull)) {
        f.catch_up_seconds = seconds_since(after);
        f.sequence_after = (*s).value("sequence", 0ull);
        break;
      }
    }
    std::this_thread::sleep_for(k_status_poll);
  }
  if (auto s = c.mirror.status()) f.mirror_sequence = (*s).value("sequence", 0ull);
  return f;
}

// --- the report ------------------------------------------------------------------------

json copy_json(const copy_run& r, double bytes, std::uint64_t messages) {
  if (!r.ran) return nullptr;
  json j;
  if (!r.error.empty()) j["error"] = r.error;
  j["cold"] = r.cold;
  j["seconds"] = r.seconds;
  j["sync_seconds"] = r.sync_seconds;
  j["mib_per_second"] = mib_per_s(bytes, r.seconds);
  j["messages_per_second"] = r.seconds > 0 ? messages / r.seconds : 0;
  return j;
}

json bootstrap_json(const bootstrap_run& r, double bytes, std::uint64_t messages) {
  json j;
  if (!r.error.empty()) j["error"] = r.error;
  j["cold"] = r.cold;
  j["start_sequence"] = r.start_sequence;
  j["seconds"] = r.seconds;
  j["mib_per_second"] = mib_per_s(bytes, r.seconds);
  j["messages_per_second"] = r.seconds > 0 ? messages / r.seconds : 0;
  j["mirror_log"] = r.log_files ? json{{"files", *r.log_files},
                                       {"mib", r.log_mib},
                                       {"seconds", r.log_seconds},
                                       {"mib_per_second", r.log_mib_per_s}}
                                : json(nullptr);
  j["primary_cpu_seconds"] = r.primary_cpu_seconds;
  j["mirror_cpu_seconds"] = r.mirror_cpu_seconds;
  j["machine_busy_percent"] = r.machine_busy_percent;
  if (r.resident_before) j["primary_store_resident_bytes_before"] = *r.resident_before;
  if (r.resident_after) j["primary_store_resident_bytes_after"] = *r.resident_after;
  return j;
}

json distribution(const std::vector<double>& v) {
  return {{"samples", v.size()},
          {"p50", percentile(v, 50)},
          {"p99", percentile(v, 99)},
          {"max", v.empty() ? 0.0 : *std::max_element(v.begin(), v.end())}};
}

std::string seconds_cell(const copy_run& r) {
  if (!r.ran) return "-";
  if (!r.error.empty()) return "error";
  return fmt::format("{:.2f} s", r.seconds);
}

int run_bench(const options& o, const char* argv0) {
  prepare_process();
  spdlog::set_level(spdlog::level::warn);  // the store's own info lines stay out of the report
  const bench_setup setup(argv0, "repl_bootstrap_bench", o.packmaild, o.packmailctl, o.keep);
  const fs::path build = setup.packmaild.parent_path().parent_path();
  const fs::path cache_root = o.no_cache        ? setup.scratch.path() / "data"
                              : o.cache.empty() ? build / "bench-data" / "repl_bootstrap_bench"
                                                : fs::path(o.cache);
  print_header(
      "repl_bootstrap_bench: mirror bootstrap vs rsync/cp, IMAP latency during it, lag under "
      "LMTP ingest",
      setup,
      {fmt::format("data: {} messages of about {} bytes, round-robin over {} users' INBOXes "
                   "(segment store written directly, sync = false; maildir-like tree; one file)",
                   with_commas(static_cast<double>(o.messages)), o.mean_size, o.users),
       fmt::format("cache: {}", o.no_cache ? "off (--no-cache)" : cache_root.string()),
       fmt::format("IMAP: {} client(s), SELECT INBOX + UID FETCH of {} random BODY.PEEK[]; "
                   "baseline {:.0f} s, then bootstraps until {} samples (at most {})",
                   o.imap_clients, o.fetch, o.latency_seconds, o.latency_samples, o.max_bootstraps),
       fmt::format("steady state: primary in sync mode, {} LMTP connections for {:.0f} s, "
                   "lag read every {} ms",
                   o.connections, o.ingest_seconds, k_lag_poll.count())});

  // 1. The data set.
  const auto setup_start = steady::now();
  const dataset data = prepare_dataset(o, setup, cache_root);
  const double setup_seconds = seconds_since(setup_start);
  fmt::print(
      "setup: {} ({:.1f} s); payload {} bytes ({}), mean {:.0f} bytes per message\n",
      data.cached ? "cached data set " + data.dir.string() : "generated " + data.dir.string(),
      setup_seconds, with_commas(static_cast<double>(data.payload_bytes)),
      mib(static_cast<double>(data.payload_bytes)),
      static_cast<double>(data.payload_bytes) /
          static_cast<double>(std::max<std::uint64_t>(1, o.messages)));
  if (!data.cached) {
    fmt::print(
        "setup: store ingest {:.1f} s ({} messages/s, {} threads), compactions settled in "
        "{:.1f} s\n",
        data.setup["ingest_seconds"].get<double>(),
        with_commas(data.setup["ingest_messages_per_second"].get<double>()), o.setup_threads,
        data.setup["settle_seconds"].get<double>());
  }

  // 3. The old way, before any server runs.
  const old_way old = copy_the_old_way(data, setup.scratch.path());

  // 2. Bootstraps.
  cluster c(o, setup, data);
  bootstrap_run cold, warm;
  std::uint64_t db_bytes = 0, db_files = 0;
  latency_figures lat;
  std::vector<bootstrap_run> latency_bootstraps;
  std::string latency_error;
  // The primary's store pages in the page cache: before the baseline, when the
  // last bootstrap ended, after the phase after it.
  std::uint64_t resident_latency_start = 0, resident_latency_tailing = 0, resident_latency_end = 0;
  lag_figures lag;
  bool lag_ran = false;
  std::string cluster_error;
  try {
    c.make_primary();
    fmt::print(stderr, "primary: starting (async)...\n");
    c.start_primary("async");
    db_bytes = checkpointed_bytes(c.primary_db(), &db_files);
    fmt::print(stderr, "bootstrap: cold...\n");
    cold = c.bootstrap("cold", true);
    cold.resident_after = resident_bytes(c.primary_db());
    fmt::print(stderr, "bootstrap: cold: {:.2f} s\n", cold.seconds);
    c.mirror.stop();
    // Warm: the primary's store in the page cache, as cp's warm source is
    // (the primary drops the pages it sent: POSIX_FADV_DONTNEED).
    read_files(c.primary_db());
    const std::uint64_t resident_read = resident_bytes(c.primary_db());
    fmt::print(stderr,
               "bootstrap: warm (store pages cached: {} after the cold bootstrap, {} "
               "after reading it)...\n",
               mib(static_cast<double>(*cold.resident_after)),
               mib(static_cast<double>(resident_read)));
    warm = c.bootstrap("warm", false);
    warm.resident_before = resident_read;
    warm.resident_after = resident_bytes(c.primary_db());
    fmt::print(stderr, "bootstrap: warm: {:.2f} s\n", warm.seconds);

    // 4. IMAP latency: baseline, then during bootstraps.
    try {
      // The baseline on a warm page cache, as a server whose store fits in
      // memory has it (the warm bootstrap just dropped the pages it sent).
      read_files(c.primary_db());
      resident_latency_start = resident_bytes(c.primary_db());
      imap_loop loop(o, data, c.primary.imap, lat);
      loop.start();
      std::this_thread::sleep_for(std::chrono::seconds(1));  // logged in, warmed up
      fmt::print(stderr, "latency: baseline {:.0f} s...\n", o.latency_seconds);
      loop.phase = baseline;
      std::this_thread::sleep_for(std::chrono::duration<double>(o.latency_seconds));
      loop.phase = idle;
      while (latency_bootstraps.size() < o.max_bootstraps &&
             (latency_bootstraps.empty() || lat.bootstrap_samples < o.latency_samples)) {
        fmt::print(stderr, "latency: bootstrap {} ({} samples so far)...\n",
                   latency_bootstraps.size() + 1, lat.bootstrap_samples.load());
        bootstrap_run r;
        r.name = fmt::format("latency-{}", latency_bootstraps.size() + 1);
        c.mirror.stop();
        r.start_sequence = c.primary_sequence();
        const auto start = steady::now();
        c.start_empty_mirror();
        loop.phase = during_bootstrap;
        try {
          r.seconds = c.wait_tailing(r.start_sequence, start, [&](const json& p) {
            for (const auto& m : p["mirrors"]) {
              if (m.value("state", "") == "bootstrap") {
                r.rate_limits.push_back(p.value("bootstrap_rate_limit", 0.0));
              }
            }
          });
        } catch (...) {
          loop.phase = idle;
          loop.stop();
          throw;
        }
        loop.phase = idle;
        c.read_mirror_log(r);
        latency_bootstraps.push_back(std::move(r));
      }
      if (!latency_bootstraps.empty()) {
        fmt::print(stderr, "latency: after the bootstraps {:.0f} s...\n", o.latency_seconds);
        resident_latency_tailing = resident_bytes(c.primary_db());
        loop.phase = after_bootstrap;
        std::this_thread::sleep_for(std::chrono::duration<double>(o.latency_seconds));
        loop.phase = idle;
      }
      loop.stop();
      resident_latency_end = resident_bytes(c.primary_db());
    } catch (const std::exception& e) {
      latency_error = e.what();
      fmt::print(stderr, "latency: FAILED: {}\n", latency_error);
    }

    // 5. Steady-state lag (needs a tailing mirror: the last one).
    if (c.mirror.alive()) {
      lag_ran = true;
      try {
        lag = steady_state(o, c);
      } catch (const std::exception& e) {
        lag.error = e.what();
        fmt::print(stderr, "steady state: FAILED: {}\n", lag.error);
      }
    } else {
      lag.error = "no mirror tailing after the latency phase";
    }
  } catch (const std::exception& e) {
    cluster_error = e.what();
    fmt::print(stderr, "FAILED: {}\n", cluster_error);
  }
  c.mirror.stop();
  c.primary.stop();

  // --- the tables ----------------------------------------------------------------------
  const double payload = static_cast<double>(data.payload_bytes);
  const double dbb = static_cast<double>(db_bytes);
  const bool boot_ok = cluster_error.empty() || cold.seconds > 0;
  const auto boot_cell = [&](const bootstrap_run& r, auto&& f) -> std::string {
    return r.seconds > 0 ? f(r) : std::string(boot_ok ? "-" : "error");
  };
  const auto copy_cell = [](const copy_run& r, auto&& f) -> std::string {
    if (!r.ran) return "-";
    return r.error.empty() ? f(r) : std::string("error");
  };
  const std::size_t lw = 36, cw = 17;
  fmt::print("\n");
  print_row("", {"bootstrap", "rsync -a tree", "cp one file"}, lw, cw);
  print_row("files",
            {with_commas(static_cast<double>(db_files)),
             with_commas(static_cast<double>(o.messages)), "1"},
            lw, cw);
  print_row("bytes", {mib(dbb), mib(payload), mib(payload)}, lw, cw);
  for (bool is_cold : {true, false}) {
    const bootstrap_run& b = is_cold ? cold : warm;
    const copy_run& rs = is_cold ? old.rsync_cold : old.rsync_warm;
    const copy_run& cp = is_cold ? old.cp_cold : old.cp_warm;
    const std::string t = is_cold ? "cold" : "warm";
    print_row(t + ": seconds",
              {boot_cell(b, [](auto& r) { return fmt::format("{:.2f} s", r.seconds); }),
               seconds_cell(rs), seconds_cell(cp)},
              lw, cw);
    print_row(
        t + ": MiB/s",
        {boot_cell(b, [&](auto& r) { return fmt::format("{:.1f}", mib_per_s(dbb, r.seconds)); }),
         copy_cell(rs,
                   [&](auto& r) { return fmt::format("{:.1f}", mib_per_s(payload, r.seconds)); }),
         copy_cell(cp,
                   [&](auto& r) { return fmt::format("{:.1f}", mib_per_s(payload, r.seconds)); })},
        lw, cw);
    print_row(
        t + ": messages/s",
        {boot_cell(b, [&](auto& r) { return with_commas(o.messages / r.seconds); }),
         copy_cell(rs,
                   [&](auto& r) { return with_commas(o.messages / std::max(r.seconds, 1e-9)); }),
         copy_cell(cp,
                   [&](auto& r) { return with_commas(o.messages / std::max(r.seconds, 1e-9)); })},
        lw, cw);
    print_row(
        t + ": sync afterwards",
        {"included", copy_cell(rs, [](auto& r) { return fmt::format("{:.2f} s", r.sync_seconds); }),
         copy_cell(cp, [](auto& r) { return fmt::format("{:.2f} s", r.sync_seconds); })},
        lw, cw);
    print_row(t + ": transfer (mirror's log)",
              {b.log_files ? fmt::format("{:.2f} s", b.log_seconds) : std::string("-"), "", ""}, lw,
              cw);
    print_row(t + ": CPU primary / mirror",
              {b.seconds > 0
                   ? fmt::format("{:.1f} / {:.1f} s", b.primary_cpu_seconds, b.mirror_cpu_seconds)
                   : std::string("-"),
               "", ""},
              lw, cw);
  }
  if (warm.resident_after) {
    fmt::print(
        "\n  primary's SST/blob pages in the page cache: {} after the cold bootstrap, {} "
        "after reading them, {} after the warm bootstrap (of {})\n",
        mib(static_cast<double>(cold.resident_after.value_or(0))),
        mib(static_cast<double>(warm.resident_before.value_or(0))),
        mib(static_cast<double>(*warm.resident_after)), mib(dbb));
  }
  std::string cache_note;
  for (const auto* r : {&old.rsync_cold, &old.cp_cold}) {
    if (r->ran && !r->cold && !r->cache_note.empty()) cache_note = r->cache_note;
  }
  if (!cold.cache_note.empty()) cache_note = cold.cache_note;
  if (!cache_note.empty()) {
    fmt::print("\n  page cache NOT dropped ({}): the cold figures are warm\n", cache_note);
  }

  // IMAP latency.
  fmt::print("\n");
  const std::size_t lcw = 19;
  const auto lat_cells = [&](const auto& f) {
    return std::vector<std::string>{f(baseline), f(during_bootstrap), f(after_bootstrap)};
  };
  const auto lat_row = [&](const std::string& what, const latency_recorder* rec) {
    print_row(what, lat_cells([&](int p) {
                return fmt::format("{:.2f} / {:.2f}", rec[p].percentile_ms(50),
                                   rec[p].percentile_ms(99));
              }),
              lw, lcw);
  };
  print_row("IMAP on the primary", {"baseline", "during bootstrap", "after it"}, lw, lcw);
  print_row("commands (SELECT + FETCH)",
            lat_cells([&](int p) { return with_commas(static_cast<double>(lat.all[p].count())); }),
            lw, lcw);
  lat_row("all commands p50 / p99 ms", lat.all);
  lat_row("SELECT INBOX p50 / p99 ms", lat.select);
  lat_row(fmt::format("UID FETCH {} BODY.PEEK[] p50/p99 ms", o.fetch), lat.fetch);
  print_row("max ms", lat_cells([&](int p) { return fmt::format("{:.2f}", lat.all[p].max_ms()); }),
            lw, lcw);
  double bootstrap_seconds = 0;
  std::vector<double> rates;
  for (const auto& r : latency_bootstraps) {
    bootstrap_seconds += r.seconds;
    rates.insert(rates.end(), r.rate_limits.begin(), r.rate_limits.end());
  }
  const auto limited = std::count_if(rates.begin(), rates.end(), [](double r) { return r > 0; });
  double min_rate = 0;
  for (double r : rates) {
    if (r > 0) min_rate = min_rate > 0 ? std::min(min_rate, r) : r;
  }
  print_row("bootstraps (total seconds)",
            {"-", fmt::format("{} ({:.1f} s)", latency_bootstraps.size(), bootstrap_seconds), "-"},
            lw, lcw);
  print_row("adaptive bulk rate limited",
            {"-",
             rates.empty() ? std::string("-")
                           : fmt::format("{}/{} polls{}", limited, rates.size(),
                                         min_rate > 0 ? fmt::format(", min {}/s", mib(min_rate))
                                                      : std::string()),
             "-"},
            lw, lcw);
  print_row("store pages cached at the start",
            {mib(static_cast<double>(resident_latency_start)),
             mib(static_cast<double>(resident_latency_start)),
             mib(static_cast<double>(resident_latency_tailing))},
            lw, lcw);
  print_row("store pages cached at the end",
            {"-", mib(static_cast<double>(resident_latency_tailing)),
             mib(static_cast<double>(resident_latency_end))},
            lw, lcw);
  if (!latency_error.empty()) fmt::print("\n  IMAP latency FAILED: {}\n", latency_error);
  if (!lat.first_error.empty()) fmt::print("\n  IMAP client error: {}\n", lat.first_error);

  // Steady state.
  fmt::print("\n");
  print_row("steady state (sync mode)", {"primary + mirror"}, lw, cw + 4);
  if (lag_ran && lag.error.empty()) {
    print_row("delivered (failed)", {fmt::format("{} ({})", lag.delivered, lag.failed)}, lw,
              cw + 4);
    print_row("deliveries/s", {with_commas(lag.rate())}, lw, cw + 4);
    print_row("LMTP latency p50 / p99 ms",
              {fmt::format("{:.2f} / {:.2f}", lag.latency.percentile_ms(50),
                           lag.latency.percentile_ms(99))},
              lw, cw + 4);
    print_row("lag sequences p50 / p99 / max",
              {fmt::format("{:.0f} / {:.0f} / {:.0f}", percentile(lag.lag_sequences, 50),
                           percentile(lag.lag_sequences, 99), percentile(lag.lag_sequences, 100))},
              lw, cw + 4);
    print_row("lag seconds p50 / p99 / max",
              {fmt::format("{:.3f} / {:.3f} / {:.3f}", percentile(lag.lag_seconds, 50),
                           percentile(lag.lag_seconds, 99), percentile(lag.lag_seconds, 100))},
              lw, cw + 4);
    print_row("lag batches p99 / max",
              {fmt::format("{:.0f} / {:.0f}", percentile(lag.lag_batches, 99),
                           percentile(lag.lag_batches, 100))},
              lw, cw + 4);
    print_row(
        "status polls (no mirror / not in sync)",
        {fmt::format("{} ({} / {})", lag.polls, lag.polls_without_mirror, lag.polls_not_in_sync)},
        lw, cw + 4);
    print_row("mirror disconnected during the load",
              {fmt::format("{} times", lag.mirror_disconnects)}, lw, cw + 4);
    print_row("caught up after the load",
              {lag.catch_up_seconds >= 0 ? fmt::format("{:.2f} s", lag.catch_up_seconds)
                                         : std::string("not in 60 s")},
              lw, cw + 4);
    print_row("sequence primary / mirror",
              {fmt::format("{} / {}", lag.sequence_after, lag.mirror_sequence)}, lw, cw + 4);
    print_row("CPU primary / mirror (us/delivery)",
              {fmt::format("{:.0f} / {:.0f}",
                           lag.delivered ? 1e6 * lag.server_cpu_seconds / lag.delivered : 0.0,
                           lag.delivered ? 1e6 * lag.mirror_cpu_seconds / lag.delivered : 0.0)},
              lw, cw + 4);
    print_row("machine busy", {fmt::format("{:.0f}%", lag.machine_busy_percent)}, lw, cw + 4);
    if (!lag.first_error.empty()) fmt::print("\n  first LMTP error: {}\n", lag.first_error);
  } else {
    print_row("", {"error"}, lw, cw + 4);
    fmt::print("\n  steady state FAILED: {}\n", lag.error);
  }
  if (!cluster_error.empty()) fmt::print("\n  FAILED: {}\n", cluster_error);

  // --- targets and JSON ----------------------------------------------------------------
  json out;
  out["bench"] = "repl_bootstrap_bench";
  out["date"] = setup.date;
  out["machine"] = machine_json();
  out["messages"] = o.messages;
  out["users"] = o.users;
  out["seed"] = o.seed;
  out["payload_bytes"] = data.payload_bytes;
  out["db_bytes"] = db_bytes;
  out["db_files"] = db_files;
  out["setup"] = {{"cached", data.cached}, {"seconds", setup_seconds}, {"data", data.setup}};
  out["cache_dropped"] = cache_note.empty();
  if (!cache_note.empty()) out["cache_note"] = cache_note;
  out["bootstrap"] = {{"cold", bootstrap_json(cold, dbb, o.messages)},
                      {"warm", bootstrap_json(warm, dbb, o.messages)}};
  out["rsync"] = {{"version", old.rsync_version},
                  {"cold", copy_json(old.rsync_cold, payload, o.messages)},
                  {"warm", copy_json(old.rsync_warm, payload, o.messages)}};
  out["cp"] = {{"cold", copy_json(old.cp_cold, payload, o.messages)},
               {"warm", copy_json(old.cp_warm, payload, o.messages)}};
  json lb = json::array();
  for (const auto& r : latency_bootstraps) {
    lb.push_back({{"seconds", r.seconds},
                  {"mirror_log_seconds", r.log_files ? json(r.log_seconds) : json(nullptr)},
                  {"rate_limit_polls", r.rate_limits.size()},
                  {"rate_limited_polls", std::count_if(r.rate_limits.begin(), r.rate_limits.end(),
                                                       [](double x) { return x > 0; })}});
  }
  out["imap_latency"] = {{"clients", o.imap_clients},
                         {"fetch_messages", o.fetch},
                         {"baseline", lat.all[baseline].to_json()},
                         {"during_bootstrap", lat.all[during_bootstrap].to_json()},
                         {"after_bootstrap", lat.all[after_bootstrap].to_json()},
                         {"select",
                          {{"baseline", lat.select[baseline].to_json()},
                           {"during_bootstrap", lat.select[during_bootstrap].to_json()},
                           {"after_bootstrap", lat.select[after_bootstrap].to_json()}}},
                         {"fetch",
                          {{"baseline", lat.fetch[baseline].to_json()},
                           {"during_bootstrap", lat.fetch[during_bootstrap].to_json()},
                           {"after_bootstrap", lat.fetch[after_bootstrap].to_json()}}},
                         {"bootstraps", lb},
                         {"min_rate_limit_bytes_per_second", min_rate},
                         {"store_resident_bytes_at_start", resident_latency_start},
                         {"store_resident_bytes_after_bootstraps", resident_latency_tailing},
                         {"store_resident_bytes_at_end", resident_latency_end},
                         {"errors", lat.errors}};
  if (!latency_error.empty()) out["imap_latency"]["error"] = latency_error;
  if (lag_ran && lag.error.empty()) {
    out["steady_state"] = {{"connections", o.connections},
                           {"delivered", lag.delivered},
                           {"failed", lag.failed},
                           {"seconds", lag.seconds},
                           {"deliveries_per_second", lag.rate()},
                           {"lmtp_latency", lag.latency.to_json()},
                           {"lag_sequences", distribution(lag.lag_sequences)},
                           {"lag_seconds", distribution(lag.lag_seconds)},
                           {"lag_batches", distribution(lag.lag_batches)},
                           {"lag_bytes", distribution(lag.lag_bytes)},
                           {"polls", lag.polls},
                           {"polls_without_mirror", lag.polls_without_mirror},
                           {"polls_not_in_sync", lag.polls_not_in_sync},
                           {"mirror_disconnects", lag.mirror_disconnects},
                           {"catch_up_seconds",
                            lag.catch_up_seconds >= 0 ? json(lag.catch_up_seconds) : json(nullptr)},
                           {"primary_sequence", lag.sequence_after},
                           {"mirror_sequence", lag.mirror_sequence},
                           {"primary_cpu_seconds", lag.server_cpu_seconds},
                           {"mirror_cpu_seconds", lag.mirror_cpu_seconds},
                           {"machine_busy_percent", lag.machine_busy_percent}};
    if (!lag.first_error.empty()) out["steady_state"]["first_error"] = lag.first_error;
  } else {
    out["steady_state"] = {{"error", lag.error}};
  }
  if (!cluster_error.empty()) out["error"] = cluster_error;

  json ratios = json::object(), targets = json::object(), met = json::object();
  bool all_met = true;
  fmt::print("\n  targets{}\n", cache_note.empty() ? "" : " -- cold figures WARM");
  // One target's line and its JSON; value nullopt: `missing` says why.
  const auto target = [&](const char* key, const char* label, std::optional<double> value,
                          bool at_least, double bound, const char* digits_fmt,
                          std::string_view missing, std::string note = {}) {
    const char* relation = at_least ? ">=" : "<=";
    targets[key] = fmt::format("{} {}", relation, bound);
    if (!value) {
      all_met = false;
      fmt::print("  {}: no ratio ({})\n", label, missing);
      return;
    }
    const bool ok = at_least ? *value >= bound : *value <= bound;
    ratios[key] = *value;
    met[key] = ok;
    all_met = all_met && ok;
    fmt::print("  {:<44} {:>10} {:>10}  {}{}\n", label,
               fmt::format(fmt::runtime(digits_fmt), *value),
               fmt::format("{} {}x", relation, bound), ok ? "PASS" : "MISS", note);
  };
  const bool have_cp = cold.seconds > 0 && old.cp_cold.ran && old.cp_cold.error.empty();
  if (have_cp) {
    ratios["bootstrap_vs_cp_mib_per_second_warm"] =
        warm.seconds > 0 && old.cp_warm.error.empty()
            ? json(mib_per_s(dbb, warm.seconds) /
                   std::max(mib_per_s(payload, old.cp_warm.seconds), 1e-9))
            : json(nullptr);
  }
  target("bootstrap_vs_cp_mib_per_second_cold", "bootstrap MiB/s vs cp MiB/s, cold",
         have_cp ? std::optional(mib_per_s(dbb, cold.seconds) /
                                 std::max(mib_per_s(payload, old.cp_cold.seconds), 1e-9))
                 : std::nullopt,
         true, k_target_cp_ratio, "{:.2f}x", "a run failed");
  const bool have_rsync = cold.seconds > 0 && old.rsync_cold.ran && old.rsync_cold.error.empty();
  if (have_rsync) {
    ratios["bootstrap_speedup_vs_rsync_warm"] = warm.seconds > 0 && old.rsync_warm.error.empty()
                                                    ? json(old.rsync_warm.seconds / warm.seconds)
                                                    : json(nullptr);
  }
  target("bootstrap_speedup_vs_rsync_cold", "bootstrap speed-up vs rsync -a, cold",
         have_rsync ? std::optional(old.rsync_cold.seconds / cold.seconds) : std::nullopt, true,
         k_target_rsync_speedup, "{:.1f}x", "a run failed");
  const bool have_latency = lat.all[baseline].count() > 0 && lat.all[during_bootstrap].count() > 0;
  target("imap_p99_during_bootstrap_vs_baseline", "IMAP p99 during bootstrap vs baseline",
         have_latency ? std::optional(lat.all[during_bootstrap].percentile_ms(99) /
                                      std::max(lat.all[baseline].percentile_ms(99), 1e-9))
                      : std::nullopt,
         false, k_target_latency_ratio, "{:.2f}x", "no samples",
         lat.all[during_bootstrap].count() < o.latency_samples
             ? fmt::format(" (only {} samples)", lat.all[during_bootstrap].count())
             : std::string());
  out["ratios"] = ratios;
  out["targets"] = targets;
  out["targets_met"] = met;
  out["all_targets_met"] = all_met;
  if (o.keep) {  // the copies are of no use afterwards
    std::error_code ec;
    for (const char* copy : {"rsync-cold", "rsync-warm", "cp-cold", "cp-warm"}) {
      fs::remove_all(setup.scratch.path() / copy, ec);
    }
  }
  print_closing(out, setup, o.keep);

  const bool failed = !cluster_error.empty() || !latency_error.empty() || !lag.error.empty() ||
                      !old.cp_cold.error.empty() || !old.cp_warm.error.empty() ||
                      !old.rsync_cold.error.empty() || !old.rsync_warm.error.empty() ||
                      lat.errors > 0;
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace packmail::bench

int main(int argc, char** argv) {
  using namespace packmail::bench;
  options o;
  CLI::App app{
      "repl_bootstrap_bench: a mirror's checkpoint bootstrap vs rsync/cp of the same mail, IMAP "
      "latency on the primary during it, and the mirror's lag under LMTP ingest"};
  app.add_option("--messages", o.messages, "messages in the primary's store")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--users", o.users, "users; message i goes to user i mod users")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  app.add_option("--size", o.mean_size, "mean message size in bytes")
      ->check(CLI::Range(200ul, 1ul << 24))
      ->capture_default_str();
  app.add_option("--seed", o.seed, "message generator seed")->capture_default_str();
  app.add_option("--cache", o.cache,
                 "where generated data sets are kept between runs (default <build>/bench-data/"
                 "repl_bootstrap_bench)");
  app.add_flag("--no-cache", o.no_cache, "generate the data set in the scratch directory");
  app.add_option("--setup-threads", o.setup_threads, "threads writing the data set")
      ->check(CLI::Range(1u, 64u))
      ->capture_default_str();
  app.add_option("--imap-clients", o.imap_clients, "IMAP clients measuring latency")
      ->check(CLI::Range(1u, 64u))
      ->capture_default_str();
  app.add_option("--fetch", o.fetch, "random messages per UID FETCH")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  app.add_option("--latency-seconds", o.latency_seconds, "baseline IMAP latency phase")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--latency-samples", o.latency_samples,
                 "IMAP commands to time during bootstraps (bootstraps repeat until then)")
      ->capture_default_str();
  app.add_option("--max-bootstraps", o.max_bootstraps, "at most this many latency bootstraps")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  app.add_option("--ingest-seconds", o.ingest_seconds, "steady-state LMTP load")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--connections", o.connections, "steady-state LMTP connections")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  app.add_option("--packmaild", o.packmaild, "packmaild binary (default: the build tree's)");
  app.add_option("--packmailctl", o.packmailctl, "packmailctl binary (default: the build tree's)");
  app.add_flag("--keep", o.keep, "keep the scratch directory (data, logs)");
  CLI11_PARSE(app, argc, argv);
  return run_main("repl_bootstrap_bench", [&] { return run_bench(o, argv[0]); });
}
