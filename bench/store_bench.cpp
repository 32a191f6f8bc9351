// store_bench: the segment store against a one-file-per-message maildir.
//
// In one run, on one filesystem, with the same writers and the same messages,
// each store ingests --messages messages (about 800 bytes, realistic headers)
// spread round-robin over --users INBOXes. For each store it prints the ingest
// rate, the bytes and files on disk, and the time to copy the whole store to a
// fresh directory with `cp -a` from a cold page cache -- the operation that took
// weeks when a mirror of a maildir server had to be rebuilt (docs: DESIGN.md).
// It ends with the ratios against the targets and one line of JSON.
//
// Both stores acknowledge a message only once it is durable: the segment store
// with its default options (sync = true: WAL synced before append() returns),
// the maildir as Dovecot's LDA and Postfix's local do: write tmp/<name>, fsync
// it, rename it into new/, fsync new/.
//
// Smoke run: store_bench --messages 2000 (or --smoke).

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/measure.h"
#include "common/message_generator.h"
#include "packmail/storage/store.h"

extern char** environ;

namespace packmail::bench {
namespace {

namespace fs = std::filesystem;
namespace st = packmail::storage;
using json = nlohmann::ordered_json;
using steady = std::chrono::steady_clock;

// The targets of the issue, segment store vs maildir.
constexpr double k_target_throughput = 5.0;  // segment messages/s >= 5x
constexpr double k_target_bytes = 0.5;       // segment bytes <= 1/2
constexpr double k_target_files = 0.001;     // segment files <= 1/1000
constexpr double k_target_copy = 20.0;       // segment cold copy >= 20x faster

struct options {
  std::uint64_t messages = 200000;
  unsigned writers = 8;
  unsigned users = 200;
  std::string dir;  // empty: a fresh directory under /var/tmp
  bool keep = false;
  bool smoke = false;
  std::uint64_t seed = 1;
  std::size_t mean_size = 800;
  std::vector<std::string> stores = {"segment", "maildir"};
};

double seconds_since(steady::time_point start) {
  return std::chrono::duration<double>(steady::now() - start).count();
}

// --- the machine -------------------------------------------------------------

struct mount_info {
  std::string mount_point;
  std::string fs_type;
  std::string source;
  std::string device;  // "major:minor"
};

// The mount holding `path`: the longest mount point that prefixes it.
mount_info find_mount(const fs::path& path) {
  const std::string target = fs::weakly_canonical(path).string();
  mount_info best;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, root, mount_point, word;
    fields >> id >> parent >> device >> root >> mount_point;
    while (fields >> word && word != "-") {
    }
    std::string fs_type, source;
    fields >> fs_type >> source;
    const bool prefix = mount_point == "/" ||
                        (target.starts_with(mount_point) && (target.size() == mount_point.size() ||
                                                             target[mount_point.size()] == '/'));
    if (prefix && mount_point.size() >= best.mount_point.size()) {
      best = {mount_point, fs_type, source, device};
    }
  }
  return best;
}

// --- counters sampled around each phase ---------------------------------------

struct counters {
  double user_s = 0;  // this process, all threads
  double sys_s = 0;
  std::int64_t voluntary_switches = 0;
  std::int64_t involuntary_switches = 0;
  // Whole machine (/proc/stat), in clock ticks.
  std::uint64_t machine_busy = 0, machine_iowait = 0, machine_total = 0;
  // The device under the bench directory (/proc/diskstats).
  std::optional<std::uint64_t> disk_writes, disk_sectors_written, disk_flushes;
  // This process (/proc/self/io), when the kernel accounts it.
  std::optional<std::uint64_t> write_bytes;
};

std::optional<std::uint64_t> proc_self_io(std::string_view key) {
  std::ifstream in("/proc/self/io");
  std::string k;
  std::uint64_t v = 0;
  while (in >> k >> v) {
    if (k.size() == key.size() + 1 && k.starts_with(key)) return v;
  }
  return std::nullopt;
}

counters sample(const mount_info& mount) {
  counters c;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  c.user_s = static_cast<double>(ru.ru_utime.tv_sec) + ru.ru_utime.tv_usec / 1e6;
  c.sys_s = static_cast<double>(ru.ru_stime.tv_sec) + ru.ru_stime.tv_usec / 1e6;
  c.voluntary_switches = ru.ru_nvcsw;
  c.involuntary_switches = ru.ru_nivcsw;

  std::ifstream stat("/proc/stat");
  std::string cpu;
  std::uint64_t v[10] = {};
  if (stat >> cpu && cpu == "cpu") {
    for (auto& x : v) stat >> x;
    // user nice system idle iowait irq softirq steal guest guest_nice
    c.machine_iowait = v[4];
    c.machine_busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    c.machine_total = c.machine_busy + v[3] + v[4];
  }

  std::ifstream disks("/proc/diskstats");
  std::string line;
  while (std::getline(disks, line)) {
    std::istringstream fields(line);
    unsigned major = 0, minor = 0;
    std::string name;
    fields >> major >> minor >> name;
    if (fmt::format("{}:{}", major, minor) != mount.device) continue;
    std::vector<std::uint64_t> f;
    std::uint64_t x = 0;
    while (fields >> x) f.push_back(x);
    if (f.size() >= 7) {
      c.disk_writes = f[4];
      c.disk_sectors_written = f[6];
    }
    if (f.size() >= 16) c.disk_flushes = f[15];
    break;
  }
  c.write_bytes = proc_self_io("write_bytes");
  return c;
}

json delta_json(const counters& a, const counters& b, double wall_s, std::uint64_t messages) {
  json j;
  const double cpu = (b.user_s - a.user_s) + (b.sys_s - a.sys_s);
  j["process_cpu_user_s"] = b.user_s - a.user_s;
  j["process_cpu_sys_s"] = b.sys_s - a.sys_s;
  j["process_cpu_s"] = cpu;
  j["process_cpu_us_per_message"] = messages ? cpu * 1e6 / static_cast<double>(messages) : 0.0;
  j["process_cpu_cores_busy"] = wall_s > 0 ? cpu / wall_s : 0.0;
  j["voluntary_context_switches"] = b.voluntary_switches - a.voluntary_switches;
  j["involuntary_context_switches"] = b.involuntary_switches - a.involuntary_switches;
  const auto total = static_cast<double>(b.machine_total - a.machine_total);
  j["machine_busy_pct"] =
      total > 0 ? 100.0 * static_cast<double>(b.machine_busy - a.machine_busy) / total : 0.0;
  j["machine_iowait_pct"] =
      total > 0 ? 100.0 * static_cast<double>(b.machine_iowait - a.machine_iowait) / total : 0.0;
  const auto put = [&](const char* key, const std::optional<std::uint64_t>& x,
                       const std::optional<std::uint64_t>& y, std::uint64_t scale) {
    j[key] = x && y ? json((*y - *x) * scale) : json(nullptr);
  };
  put("disk_write_requests", a.disk_writes, b.disk_writes, 1);
  put("disk_bytes_written", a.disk_sectors_written, b.disk_sectors_written, 512);
  put("disk_flushes", a.disk_flushes, b.disk_flushes, 1);
  put("process_write_bytes", a.write_bytes, b.write_bytes, 1);
  return j;
}

// --- child processes ------------------------------------------------------------

struct run_result {
  int exit_code = -1;
  std::string out;
  double seconds = 0;
};

// Runs argv (no shell), capturing stdout; stderr passes through.
run_result run(const std::vector<std::string>& argv) {
  run_result r;
  int fds[2];
  if (pipe(fds) != 0) return r;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const auto start = steady::now();
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    r.out = std::strerror(rc);
    return r;
  }
  char buf[4096];
  ssize_t n = 0;
  while ((n = read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) r.out.append(buf, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  r.seconds = seconds_since(start);
  r.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  return r;
}

// --- measuring a store on disk ---------------------------------------------------

struct disk_usage {
  std::uint64_t apparent_bytes = 0;   // du -sb
  std::uint64_t allocated_bytes = 0;  // du -s --block-size=1
  std::uint64_t entries = 0;          // find DIR | wc -l (DIR itself included)
  std::uint64_t regular_files = 0;
  std::uint64_t directories = 0;
  std::string error;
};

std::optional<std::uint64_t> du(const fs::path& dir, std::string_view flag, std::string& error) {
  std::vector<std::string> argv = {"du", "-s"};
  if (flag == "apparent") {
    argv.push_back("-b");
  } else {
    argv.push_back("--block-size=1");
  }
  argv.push_back(dir.string());
  const run_result r = run(argv);
  std::uint64_t v = 0;
  if (r.exit_code != 0 || std::sscanf(r.out.c_str(), "%lu", &v) != 1) {
    error = fmt::format("{} failed ({}): {}", fmt::join(argv, " "), r.exit_code, r.out);
    return std::nullopt;
  }
  return v;
}

disk_usage measure(const fs::path& dir) {
  disk_usage u;
  if (auto v = du(dir, "apparent", u.error)) u.apparent_bytes = *v;
  if (auto v = du(dir, "allocated", u.error)) u.allocated_bytes = *v;
  u.entries = 1;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    ++u.entries;
    const auto type = it->symlink_status(ec).type();
    if (type == fs::file_type::regular) ++u.regular_files;
    if (type == fs::file_type::directory) ++u.directories;
  }
  if (ec) u.error = fmt::format("walking {}: {}", dir.string(), ec.message());
  return u;
}

struct copy_figures {
  double cp_seconds = 0;    // cp -a alone
  double sync_seconds = 0;  // the sync that follows: writing the copy back
  bool copied = false;      // the copy was attempted
  bool cold = false;
  std::string cache_note;  // why it was not cold
  std::string error;
};

copy_figures cold_copy(const fs::path& from, const fs::path& to) {
  copy_figures c;
  c.copied = true;
  if (auto why = drop_page_cache()) {
    c.cache_note = *why;
  } else {
    c.cold = true;
  }
  const run_result r = run({"cp", "-a", from.string(), to.string()});
  c.cp_seconds = r.seconds;
  if (r.exit_code != 0) c.error = fmt::format("cp -a exited with {}", r.exit_code);
  const auto start = steady::now();
  sync();
  c.sync_seconds = seconds_since(start);
  return c;
}

// --- ingest -------------------------------------------------------------------------

struct ingest_figures {
  double seconds = 0;
  std::uint64_t stored = 0;
  std::uint64_t failed = 0;
  std::string first_error;
  double latency_p50_ms = 0, latency_p99_ms = 0, latency_max_ms = 0;
  json counters;
};

// Calls deliver(i) for every i in [0, n) from `writers` threads, each taking the
// next index as it becomes free (like delivery processes fed by one queue).
// Stops at the first failure.
template <class Deliver>
ingest_figures ingest(std::uint64_t n, unsigned writers, const mount_info& mount, Deliver deliver,
                      std::string_view label) {
  ingest_figures f;
  std::atomic<std::uint64_t> next{0};
  std::atomic<std::uint64_t> done{0};
  std::atomic<bool> stop{false};
  std::mutex error_mutex;
  std::vector<std::vector<float>> latencies(writers);
  sync();
  const counters before = sample(mount);
  const auto start = steady::now();
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < writers; ++t) {
    threads.emplace_back([&, t] {
      auto& lat = latencies[t];
      lat.reserve(n / writers + 1);
      while (!stop.load(std::memory_order_relaxed)) {
        const std::uint64_t i = next.fetch_add(1);
        if (i >= n) break;
        const auto t0 = steady::now();
        st::status s = deliver(i);
        lat.push_back(std::chrono::duration<float, std::milli>(steady::now() - t0).count());
        if (!s.ok()) {
          std::lock_guard lock(error_mutex);
          if (f.first_error.empty()) f.first_error = s.to_string();
          ++f.failed;
          stop = true;
        } else {
          done.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  // Progress on stderr, so the report on stdout stays clean.
  std::thread progress([&] {
    auto last = steady::now();
    while (done.load() < n && !stop.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (seconds_since(last) >= 10) {
        last = steady::now();
        const double s = seconds_since(start);
        std::fprintf(stderr, "  %s: %lu/%lu messages, %.0f s, %.0f messages/s\n",
                     std::string(label).c_str(), static_cast<unsigned long>(done.load()),
                     static_cast<unsigned long>(n), s, static_cast<double>(done.load()) / s);
      }
    }
  });
  for (auto& t : threads) t.join();
  f.seconds = seconds_since(start);
  stop = true;
  progress.join();
  const counters after = sample(mount);
  f.stored = done.load();
  f.counters = delta_json(before, after, f.seconds, f.stored);

  std::vector<float> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  if (!all.empty()) {
    std::sort(all.begin(), all.end());
    const auto at = [&](double q) {
      return static_cast<double>(
          all[static_cast<std::size_t>(q * static_cast<double>(all.size() - 1))]);
    };
    f.latency_p50_ms = at(0.5);
    f.latency_p99_ms = at(0.99);
    f.latency_max_ms = all.back();
  }
  return f;
}

// --- the one-file-per-message store ------------------------------------------------

// A maildir writer as Dovecot's LDA/LMTP delivers: the file is written under
// tmp/ with a unique name, fsynced, renamed into new/, and new/ is fsynced so
// that the rename itself is durable. One maildir per user.
class maildir_writer {
 public:
  explicit maildir_writer(fs::path root) : root_(std::move(root)) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    // Maildir names may not hold '/' or ':' (the info separator).
    for (char c : std::string_view(host)) {
      if (c == '/') {
        host_ += "\\057";
      } else if (c == ':') {
        host_ += "\\072";
      } else {
        host_ += c;
      }
    }
    pid_ = getpid();
  }

  st::status create_user(const std::string& user) {
    std::error_code ec;
    for (const char* sub : {"tmp", "new", "cur"}) {
      fs::create_directories(root_ / user / sub, ec);
      if (ec) return {st::errc::internal, fmt::format("mkdir {}: {}", user, ec.message())};
    }
    return {};
  }

  st::status deliver(const std::string& user, std::string_view message) {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    // time.MusecPpidQcounter.host, then ",S=size" in new/ as Dovecot names it.
    const std::string base = fmt::format("{}.M{}P{}Q{}.{}", now.tv_sec, now.tv_nsec / 1000, pid_,
                                         counter_.fetch_add(1, std::memory_order_relaxed), host_);
    const std::string dir = (root_ / user).string();
    const std::string tmp_path = fmt::format("{}/tmp/{}", dir, base);
    const std::string new_path = fmt::format("{}/new/{},S={}", dir, base, message.size());

    const int fd = open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return error("open", tmp_path);
    std::size_t written = 0;
    while (written < message.size()) {
      const ssize_t n = write(fd, message.data() + written, message.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const st::status s = error("write", tmp_path);
        close(fd);
        return s;
      }
      written += static_cast<std::size_t>(n);
    }
    if (fsync(fd) != 0) {
      const st::status s = error("fsync", tmp_path);
      close(fd);
      return s;
    }
    if (close(fd) != 0) return error("close", tmp_path);
    if (rename(tmp_path.c_str(), new_path.c_str()) != 0) return error("rename", new_path);
    const std::string new_dir = dir + "/new";
    const int dir_fd = open(new_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) return error("open", new_dir);
    const bool synced = fsync(dir_fd) == 0;
    const st::status s = synced ? st::status() : error("fsync", new_dir);
    close(dir_fd);
    return s;
  }

 private:
  static st::status error(std::string_view what, const std::string& path) {
    return {st::errc::internal, fmt::format("{} {}: {}", what, path, std::strerror(errno))};
  }

  fs::path root_;
  std::string host_;
  pid_t pid_ = 0;
  std::atomic<std::uint64_t> counter_{0};
};

// --- one store's run ------------------------------------------------------------------

struct store_report {
  std::string name;
  fs::path path;
  std::string error;  // set when the store could not be measured
  ingest_figures ingest;
  std::uint64_t verified = 0;  // messages found in the store after the ingest
  double close_seconds = 0;
  disk_usage disk;
  copy_figures copy;
};

struct workload {
  std::vector<std::string> user_names;  // "user0042"
  std::vector<std::string> messages;    // message i goes to user i % users
  std::uint64_t payload_bytes = 0;
};

std::string user_name(unsigned i) { return fmt::format("user{:04}", i); }

void finish(store_report& r, const fs::path& scratch) {
  fmt::print(stderr, "{}: measuring du and files...\n", r.name);
  r.disk = measure(r.path);
  if (!r.disk.error.empty()) r.error = r.disk.error;
  const fs::path copy_to = scratch / ("copy-" + r.name);
  fmt::print(stderr, "{}: cp -a to {}...\n", r.name, copy_to.string());
  r.copy = cold_copy(r.path, copy_to);
  if (!r.copy.error.empty() && r.error.empty()) r.error = r.copy.error;
  std::error_code ec;
  fs::remove_all(copy_to, ec);
}

store_report run_segment(const options& o, const workload& w, const fs::path& scratch,
                         const mount_info& mount) {
  store_report r;
  r.name = "segment";
  r.path = scratch / "segment";
  st::segment_options so;
  so.path = r.path;  // every other option at its default (sync = true)
  auto opened = st::open_segment_store(so);
  if (!opened) {
    r.error = "open_segment_store: " + opened.error().to_string();
    return r;
  }
  std::unique_ptr<st::mail_store> store = std::move(opened.value());
  std::vector<st::mailbox_id> inbox(w.user_names.size());
  for (std::size_t u = 0; u < w.user_names.size(); ++u) {
    auto user = store->ensure_user(w.user_names[u]);
    if (!user) {
      r.error = "ensure_user: " + user.error().to_string();
      return r;
    }
    auto mailbox = store->get_mailbox(*user, "INBOX");
    if (!mailbox) {
      r.error = "get_mailbox INBOX: " + mailbox.error().to_string();
      return r;
    }
    inbox[u] = mailbox->id;
  }

  r.ingest = ingest(
      o.messages, o.writers, mount,
      [&](std::uint64_t i) -> st::status {
        st::append_request request;
        request.message = w.messages[i];
        request.targets.resize(1);
        request.targets[0].mailbox = inbox[i % inbox.size()];
        auto appended = store->append(request);
        return appended ? st::status() : appended.error();
      },
      "segment");
  if (r.ingest.failed) r.error = "append: " + r.ingest.first_error;

  for (st::mailbox_id id : inbox) {
    auto mailbox = store->get_mailbox(id);
    if (mailbox) r.verified += mailbox->messages;
  }
  const auto start = steady::now();
  store.reset();  // closed before it is measured and copied
  r.close_seconds = seconds_since(start);
  finish(r, scratch);
  return r;
}

store_report run_maildir(const options& o, const workload& w, const fs::path& scratch,
                         const mount_info& mount) {
  store_report r;
  r.name = "maildir";
  r.path = scratch / "maildir";
  maildir_writer writer(r.path);
  for (const auto& user : w.user_names) {
    if (st::status s = writer.create_user(user); !s.ok()) {
      r.error = s.to_string();
      return r;
    }
  }
  r.ingest = ingest(
      o.messages, o.writers, mount,
      [&](std::uint64_t i) {
        return writer.deliver(w.user_names[i % w.user_names.size()], w.messages[i]);
      },
      "maildir");
  if (r.ingest.failed) r.error = "deliver: " + r.ingest.first_error;
  for (const auto& user : w.user_names) {
    std::error_code ec;
    for (fs::directory_iterator it(r.path / user / "new", ec), end; !ec && it != end;
         it.increment(ec)) {
      ++r.verified;
    }
  }
  finish(r, scratch);
  return r;
}

// --- the report -------------------------------------------------------------------------

double rate(const store_report& r) {
  return r.ingest.seconds > 0 ? static_cast<double>(r.ingest.stored) / r.ingest.seconds : 0.0;
}

json report_json(const store_report& r) {
  json j;
  j["path"] = r.path.string();
  j["error"] = r.error.empty() ? json(nullptr) : json(r.error);
  j["messages_stored"] = r.ingest.stored;
  j["messages_verified"] = r.verified;
  j["ingest_seconds"] = r.ingest.seconds;
  j["messages_per_second"] = rate(r);
  j["append_latency_ms"] = {{"p50", r.ingest.latency_p50_ms},
                            {"p99", r.ingest.latency_p99_ms},
                            {"max", r.ingest.latency_max_ms}};
  j["ingest_counters"] = r.ingest.counters;
  if (r.name == "segment") j["close_seconds"] = r.close_seconds;
  j["bytes_apparent"] = r.disk.apparent_bytes;
  j["bytes_allocated"] = r.disk.allocated_bytes;
  j["files"] = r.disk.entries;
  j["regular_files"] = r.disk.regular_files;
  j["directories"] = r.disk.directories;
  j["copy_seconds"] = r.copy.cp_seconds;
  j["copy_sync_seconds"] = r.copy.sync_seconds;
  j["copy_cold"] = r.copy.cold;
  return j;
}

// 12,345: rounded to a whole number even below 100 (common/measure.h's
// with_commas keeps a decimal there).
std::string whole_with_commas(double v) {
  std::string digits = fmt::format("{:.0f}", v);
  std::string out;
  const std::size_t start = digits[0] == '-' ? 1 : 0;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > start && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string mib(std::uint64_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
}

void print_row(std::string_view what, const std::string& segment, const std::string& maildir) {
  fmt::print("  {:<34} {:>18} {:>18}\n", what, segment, maildir);
}

int run_bench(const options& o) {
  // Line-buffered even into a pipe, so stdout and the progress on stderr
  // interleave in order in a tee'd log.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // The scratch directory: fresh, one filesystem for both stores.
  fs::path scratch;
  std::error_code ec;
  if (o.dir.empty()) {
    std::string tmpl = "/var/tmp/packmail-store-bench.XXXXXX";
    if (!mkdtemp(tmpl.data())) {
      fmt::print(stderr, "mkdtemp {}: {}\n", tmpl, std::strerror(errno));
      return 2;
    }
    scratch = tmpl;
  } else {
    scratch = o.dir;
    if (fs::exists(scratch) && !fs::is_empty(scratch, ec)) {
      fmt::print(stderr, "--dir {} exists and is not empty; give a fresh directory\n", o.dir);
      return 2;
    }
    fs::create_directories(scratch, ec);
    if (ec) {
      fmt::print(stderr, "mkdir {}: {}\n", o.dir, ec.message());
      return 2;
    }
  }
  scratch = fs::canonical(scratch);
  const mount_info mount = find_mount(scratch);
  const bool run_segment_store =
      std::find(o.stores.begin(), o.stores.end(), "segment") != o.stores.end();
  const bool run_maildir_store =
      std::find(o.stores.begin(), o.stores.end(), "maildir") != o.stores.end();

  const std::string date = utc_now();
  fmt::print("store_bench: segment store vs one-file-per-message maildir ({})\n", date);
  fmt::print("machine: {}\n", machine_line());
  fmt::print("directory: {} on {} ({} mounted at {}, device {})\n", scratch.string(), mount.fs_type,
             mount.source, mount.mount_point, mount.device);
  fmt::print(
      "workload: {} messages of about {} bytes, {} writer threads, round-robin over {} users' "
      "INBOXes, seed {}\n",
      o.messages, o.mean_size, o.writers, o.users, o.seed);
  fmt::print(
      "durability: segment = open_segment_store defaults (sync = true); maildir = write "
      "tmp/ + fsync file + rename into new/ + fsync new/\n");
  std::fflush(stdout);

  workload w;
  for (unsigned u = 0; u < o.users; ++u) w.user_names.push_back(user_name(u));
  const message_generator generator(o.seed, o.mean_size);
  w.messages.reserve(o.messages);
  for (std::uint64_t i = 0; i < o.messages; ++i) {
    w.messages.push_back(generator.message(i, w.user_names[i % o.users] + "@example.com"));
    w.payload_bytes += w.messages.back().size();
  }
  fmt::print("payload: {} bytes ({}), mean {:.0f} bytes per message\n\n",
             whole_with_commas(static_cast<double>(w.payload_bytes)), mib(w.payload_bytes),
             static_cast<double>(w.payload_bytes) /
                 static_cast<double>(std::max<std::uint64_t>(1, o.messages)));
  std::fflush(stdout);

  std::vector<store_report> reports;
  if (run_segment_store) {
    fmt::print(stderr, "segment: ingesting...\n");
    reports.push_back(run_segment(o, w, scratch, mount));
  }
  if (run_maildir_store) {
    fmt::print(stderr, "maildir: ingesting...\n");
    reports.push_back(run_maildir(o, w, scratch, mount));
  }
  const store_report* seg = nullptr;
  const store_report* md = nullptr;
  for (const auto& r : reports) (r.name == "segment" ? seg : md) = &r;

  // Cache note: the copies are cold only when the cache could be dropped.
  std::string cache_note;
  bool cold = true;
  bool copied = false;
  for (const auto& r : reports) {
    copied = copied || r.copy.copied;
    if (r.copy.copied && !r.copy.cold) {
      cold = false;
      cache_note = r.copy.cache_note;
    }
  }

  const auto cell = [](const store_report* r, auto&& f) -> std::string {
    return r && r->error.empty() ? f(*r) : (r ? std::string("error") : std::string("-"));
  };
  fmt::print("  {:<34} {:>18} {:>18}\n", "", "segment", "maildir");
  print_row("messages stored (verified)",
            cell(seg, [](auto& r) { return fmt::format("{} ({})", r.ingest.stored, r.verified); }),
            cell(md, [](auto& r) { return fmt::format("{} ({})", r.ingest.stored, r.verified); }));
  print_row("ingest wall time",
            cell(seg, [](auto& r) { return fmt::format("{:.2f} s", r.ingest.seconds); }),
            cell(md, [](auto& r) { return fmt::format("{:.2f} s", r.ingest.seconds); }));
  print_row("messages/s", cell(seg, [](auto& r) { return whole_with_commas(rate(r)); }),
            cell(md, [](auto& r) { return whole_with_commas(rate(r)); }));
  const auto lat = [](auto& r) {
    return fmt::format("{:.2f}/{:.2f}/{:.1f}", r.ingest.latency_p50_ms, r.ingest.latency_p99_ms,
                       r.ingest.latency_max_ms);
  };
  print_row("append latency p50/p99/max ms", cell(seg, lat), cell(md, lat));
  const auto cpu = [](auto& r) {
    return fmt::format("{:.1f} s ({:.0f} us/msg)",
                       r.ingest.counters["process_cpu_s"].template get<double>(),
                       r.ingest.counters["process_cpu_us_per_message"].template get<double>());
  };
  print_row("process CPU user+sys (ingest)", cell(seg, cpu), cell(md, cpu));
  const auto machine = [](auto& r) {
    return fmt::format("{:.0f}% / {:.0f}%",
                       r.ingest.counters["machine_busy_pct"].template get<double>(),
                       r.ingest.counters["machine_iowait_pct"].template get<double>());
  };
  print_row("machine busy / iowait", cell(seg, machine), cell(md, machine));
  const auto counter = [](std::string_view key, bool bytes) {
    return [key, bytes](auto& r) -> std::string {
      const json& v = r.ingest.counters[std::string(key)];
      if (v.is_null()) return "n/a";
      return bytes ? mib(v.template get<std::uint64_t>())
                   : whole_with_commas(static_cast<double>(v.template get<std::uint64_t>()));
    };
  };
  print_row("disk flushes (ingest)", cell(seg, counter("disk_flushes", false)),
            cell(md, counter("disk_flushes", false)));
  print_row("disk write requests (ingest)", cell(seg, counter("disk_write_requests", false)),
            cell(md, counter("disk_write_requests", false)));
  print_row("disk bytes written (ingest)", cell(seg, counter("disk_bytes_written", true)),
            cell(md, counter("disk_bytes_written", true)));
  if (seg && seg->error.empty()) {
    print_row("close", fmt::format("{:.2f} s", seg->close_seconds), "-");
  }
  print_row("bytes on disk, allocated (du)",
            cell(seg, [](auto& r) { return mib(r.disk.allocated_bytes); }),
            cell(md, [](auto& r) { return mib(r.disk.allocated_bytes); }));
  print_row("bytes on disk, apparent (du -b)",
            cell(seg, [](auto& r) { return mib(r.disk.apparent_bytes); }),
            cell(md, [](auto& r) { return mib(r.disk.apparent_bytes); }));
  print_row(
      "files (find | wc -l)",
      cell(seg, [](auto& r) { return whole_with_commas(static_cast<double>(r.disk.entries)); }),
      cell(md, [](auto& r) { return whole_with_commas(static_cast<double>(r.disk.entries)); }));
  print_row(
      "  of which regular files",
      cell(seg,
           [](auto& r) { return whole_with_commas(static_cast<double>(r.disk.regular_files)); }),
      cell(md,
           [](auto& r) { return whole_with_commas(static_cast<double>(r.disk.regular_files)); }));
  const std::string copy_label = cold ? "cp -a, cold cache" : "cp -a, WARM cache";
  print_row(copy_label,
            cell(seg, [](auto& r) { return fmt::format("{:.2f} s", r.copy.cp_seconds); }),
            cell(md, [](auto& r) { return fmt::format("{:.2f} s", r.copy.cp_seconds); }));
  print_row("sync after cp -a",
            cell(seg, [](auto& r) { return fmt::format("{:.2f} s", r.copy.sync_seconds); }),
            cell(md, [](auto& r) { return fmt::format("{:.2f} s", r.copy.sync_seconds); }));
  if (copied && !cold) {
    fmt::print("\n  page cache NOT dropped ({}): the copy times above are warm\n", cache_note);
  }
  for (const auto& r : reports) {
    if (!r.error.empty()) fmt::print("\n  {} FAILED: {}\n", r.name, r.error);
    if (r.error.empty() && r.verified != r.ingest.stored) {
      fmt::print("\n  {}: {} messages acknowledged but {} found afterwards\n", r.name,
                 r.ingest.stored, r.verified);
    }
  }

  json out;
  out["bench"] = "store_bench";
  out["date"] = date;
  out["messages"] = o.messages;
  out["writers"] = o.writers;
  out["users"] = o.users;
  out["seed"] = o.seed;
  out["payload_bytes"] = w.payload_bytes;
  out["machine"] = machine_json();
  out["machine"]["fs_type"] = mount.fs_type;
  out["machine"]["fs_source"] = mount.source;
  out["machine"]["dir"] = scratch.string();
  out["cache_dropped"] = copied ? json(cold) : json(nullptr);
  if (!cold) out["cache_note"] = cache_note;
  for (const auto& r : reports) out[r.name] = report_json(r);

  bool ok = true;
  for (const auto& r : reports) ok = ok && r.error.empty() && r.verified == r.ingest.stored;
  if (seg && md && ok) {
    const double throughput = rate(*seg) / std::max(rate(*md), 1e-9);
    const double bytes = static_cast<double>(seg->disk.allocated_bytes) /
                         static_cast<double>(std::max<std::uint64_t>(md->disk.allocated_bytes, 1));
    const double files = static_cast<double>(seg->disk.entries) /
                         static_cast<double>(std::max<std::uint64_t>(md->disk.entries, 1));
    const double copy = md->copy.cp_seconds / std::max(seg->copy.cp_seconds, 1e-9);
    const bool met_throughput = throughput >= k_target_throughput;
    const bool met_bytes = bytes <= k_target_bytes;
    const bool met_files = files <= k_target_files;
    const bool met_copy = copy >= k_target_copy;
    const auto verdict = [](bool met) { return met ? "PASS" : "MISS"; };
    // The targets as text, from the constants: ">= 5", "<= 0.5", ...
    const std::string target_throughput = fmt::format(">= {}", k_target_throughput);
    const std::string target_bytes = fmt::format("<= {}", k_target_bytes);
    const std::string target_files = fmt::format("<= {}", k_target_files);
    const std::string target_copy = fmt::format(">= {}", k_target_copy);
    fmt::print("\n  targets (segment vs maildir){}\n", cold ? "" : " -- copy times WARM");
    fmt::print("  {:<34} {:>12} {:>14}  {}\n", "messages/s", fmt::format("{:.2f}x", throughput),
               target_throughput + "x", verdict(met_throughput));
    fmt::print("  {:<34} {:>12} {:>14}  {}\n", "bytes on disk (allocated)",
               fmt::format("{:.3f}", bytes), target_bytes, verdict(met_bytes));
    fmt::print("  {:<34} {:>12} {:>14}  {}\n", "files", fmt::format("{:.6f}", files), target_files,
               verdict(met_files));
    fmt::print("  {:<34} {:>12} {:>14}  {}\n", cold ? "cold cp -a speed-up" : "WARM cp -a speed-up",
               fmt::format("{:.1f}x", copy), target_copy + "x", verdict(met_copy));
    out["ratios"] = {{"messages_per_second", throughput},
                     {"bytes_allocated", bytes},
                     {"files", files},
                     {"copy_speedup", copy}};
    out["targets"] = {{"messages_per_second", target_throughput},
                      {"bytes_allocated", target_bytes},
                      {"files", target_files},
                      {"copy_speedup", target_copy}};
    out["targets_met"] = {{"messages_per_second", met_throughput},
                          {"bytes_allocated", met_bytes},
                          {"files", met_files},
                          {"copy_speedup", met_copy}};
    out["all_targets_met"] = met_throughput && met_bytes && met_files && met_copy;
  } else {
    out["ratios"] = nullptr;
    out["targets_met"] = nullptr;
    fmt::print("\n  no ratios: {}\n", seg && md ? "a store failed" : "only one store was run");
  }

  if (o.keep) {
    fmt::print("\n  stores kept under {}\n", scratch.string());
  } else {
    fs::remove_all(scratch, ec);
  }
  fmt::print("\n{}\n", out.dump());
  std::fflush(stdout);
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace packmail::bench

int main(int argc, char** argv) {
  packmail::bench::options o;
  CLI::App app{"store_bench: segment store vs one-file-per-message maildir"};
  app.add_option("--messages", o.messages, "messages to ingest into each store")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--writers", o.writers, "concurrent writer threads")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  app.add_option("--users", o.users, "users; messages go to their INBOXes round-robin")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  app.add_option("--dir", o.dir,
                 "fresh (absent or empty) directory for both stores; default a new one under "
                 "/var/tmp");
  app.add_flag("--keep", o.keep, "keep the stores afterwards");
  app.add_flag("--smoke", o.smoke, "a quick check: --messages 2000");
  app.add_option("--seed", o.seed, "message generator seed")->capture_default_str();
  app.add_option("--size", o.mean_size, "mean message size in bytes")
      ->check(CLI::Range(200ul, 1ul << 24))
      ->capture_default_str();
  app.add_option("--stores", o.stores, "stores to run (segment,maildir); ratios need both")
      ->delimiter(',')
      ->check(CLI::IsMember({"segment", "maildir"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (o.smoke && app.count("--messages") == 0) o.messages = 2000;
  return packmail::bench::run_bench(o);
}
