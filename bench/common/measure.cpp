#include "common/measure.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <fmt/format.h>

namespace packmail::bench {

// --- latency_recorder ----------------------------------------------------------------

void latency_recorder::add(std::chrono::steady_clock::duration d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  micros_.push_back(static_cast<std::uint32_t>(std::clamp<std::int64_t>(us, 0, UINT32_MAX)));
  sorted_ = micros_.size() < 2 || (sorted_ && micros_[micros_.size() - 2] <= micros_.back());
}

double latency_recorder::percentile_ms(double p) const {
  if (micros_.empty()) return 0;
  if (!sorted_) {
    std::sort(micros_.begin(), micros_.end());
    sorted_ = true;
  }
  const auto n = micros_.size();
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
  rank = std::clamp<std::size_t>(rank, 1, n);
  return micros_[rank - 1] / 1000.0;
}

double latency_recorder::mean_ms() const {
  if (micros_.empty()) return 0;
  double sum = 0;
  for (auto us : micros_) sum += us;
  return sum / static_cast<double>(micros_.size()) / 1000.0;
}

double latency_recorder::max_ms() const {
  return micros_.empty() ? 0 : *std::max_element(micros_.begin(), micros_.end()) / 1000.0;
}

nlohmann::ordered_json latency_recorder::to_json() const {
  return {{"count", count()},
          {"p50_ms", percentile_ms(50)},
          {"p90_ms", percentile_ms(90)},
          {"p99_ms", percentile_ms(99)},
          {"max_ms", max_ms()},
          {"mean_ms", mean_ms()}};
}

// --- page cache ----------------------------------------------------------------------------

std::optional<std::string> drop_page_cache() {
  ::sync();
  if (::geteuid() != 0) return "not running as root";
  const int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fmt::format("open /proc/sys/vm/drop_caches: {}", std::strerror(errno));
  const bool ok = ::write(fd, "3", 1) == 1;
  const int err = errno;
  ::close(fd);
  if (!ok) return fmt::format("write /proc/sys/vm/drop_caches: {}", std::strerror(err));
  return std::nullopt;
}

// --- CPU -----------------------------------------------------------------------------------

double self_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

machine_ticks read_machine_ticks() {
  machine_ticks t;
  std::ifstream stat("/proc/stat");
  std::string cpu;
  std::uint64_t v[8] = {};
  if (stat >> cpu && cpu == "cpu") {
    for (auto& x : v) stat >> x;
    // user nice system idle iowait irq softirq steal
    t.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    t.total = t.busy + v[3] + v[4];
  }
  return t;
}

double busy_percent(const machine_ticks& a, const machine_ticks& b) {
  const auto total = static_cast<double>(b.total - a.total);
  return total > 0 ? 100.0 * static_cast<double>(b.busy - a.busy) / total : 0.0;
}

double machine_busy_over(std::chrono::milliseconds window) {
  const machine_ticks a = read_machine_ticks();
  std::this_thread::sleep_for(window);
  return busy_percent(a, read_machine_ticks());
}

namespace {

struct proc_stat {
  pid_t ppid = 0;
  std::uint64_t utime = 0, stime = 0, cutime = 0, cstime = 0;
};

bool read_proc_stat(pid_t pid, proc_stat& out) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return false;
  // The command name is in parentheses and may contain spaces: fields start
  // after the last ')'.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(text.substr(close + 2));
  std::string state;
  long long v[15] = {};
  fields >> state;
  for (auto& x : v) fields >> x;
  if (!fields) return false;
  // After state: ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
  // cmajflt utime stime cutime cstime
  out.ppid = static_cast<pid_t>(v[0]);
  out.utime = static_cast<std::uint64_t>(v[10]);
  out.stime = static_cast<std::uint64_t>(v[11]);
  out.cutime = static_cast<std::uint64_t>(v[12]);
  out.cstime = static_cast<std::uint64_t>(v[13]);
  return true;
}

std::map<pid_t, proc_stat> all_processes() {
  std::map<pid_t, proc_stat> all;
  DIR* dir = opendir("/proc");
  if (!dir) return all;
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    proc_stat s;
    if (read_proc_stat(static_cast<pid_t>(pid), s)) all.emplace(static_cast<pid_t>(pid), s);
  }
  closedir(dir);
  return all;
}

std::vector<pid_t> tree_of(pid_t root, const std::map<pid_t, proc_stat>& all) {
  std::multimap<pid_t, pid_t> children;
  for (const auto& [pid, s] : all) children.emplace(s.ppid, pid);
  std::vector<pid_t> tree;
  if (!all.contains(root)) return tree;
  tree.push_back(root);
  for (std::size_t i = 0; i < tree.size(); ++i) {
    const auto [first, last] = children.equal_range(tree[i]);
    for (auto it = first; it != last; ++it) tree.push_back(it->second);
  }
  return tree;
}

// "Key:   123 kB" lines (/proc/PID/status, smaps_rollup, /proc/meminfo).
std::uint64_t field_kib(const std::string& path, std::string_view key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ':') {
      return std::strtoull(line.c_str() + key.size() + 1, nullptr, 10);
    }
  }
  return 0;
}

}  // namespace

std::vector<pid_t> process_tree(pid_t root) { return tree_of(root, all_processes()); }

double tree_cpu_seconds(pid_t root) {
  const auto all = all_processes();
  std::uint64_t ticks = 0;
  for (pid_t pid : tree_of(root, all)) {
    const auto& s = all.at(pid);
    ticks += s.utime + s.stime + s.cutime + s.cstime;
  }
  return static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

tree_memory measure_tree_memory(pid_t root) {
  tree_memory m;
  for (pid_t pid : process_tree(root)) {
    const std::string proc = "/proc/" + std::to_string(pid);
    const std::uint64_t rss = field_kib(proc + "/status", "VmRSS");
    if (rss == 0) continue;  // exited meanwhile, or a kernel thread
    m.rss_bytes += rss * 1024;
    m.pss_bytes += field_kib(proc + "/smaps_rollup", "Pss") * 1024;
    ++m.processes;
  }
  return m;
}

// --- the machine ----------------------------------------------------------------------------

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("model name")) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  }
  return "unknown";
}

std::uint64_t total_memory_bytes() { return field_kib("/proc/meminfo", "MemTotal") * 1024; }

std::string kernel_release() {
  utsname u{};
  return uname(&u) == 0 ? std::string(u.release) : "unknown";
}

unsigned cpu_count() { return std::max(1u, std::thread::hardware_concurrency()); }

nlohmann::ordered_json machine_json() {
  return {{"nproc", cpu_count()},
          {"cpu", cpu_model()},
          {"memory_bytes", total_memory_bytes()},
          {"kernel", kernel_release()}};
}

std::string machine_line() {
  return fmt::format("{} cores ({}), {:.1f} GiB memory, kernel {}", cpu_count(), cpu_model(),
                     static_cast<double>(total_memory_bytes()) / (1ull << 30), kernel_release());
}

std::uint64_t raise_open_file_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  if (r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
    getrlimit(RLIMIT_NOFILE, &r);
  }
  return r.rlim_cur;
}

std::string with_commas(double v) {
  if (std::fabs(v) < 100 && v != std::floor(v)) return fmt::format("{:.1f}", v);
  auto n = static_cast<long long>(std::llround(v));
  const bool negative = n < 0;
  std::string digits = std::to_string(negative ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return negative ? "-" + out : out;
}

std::string kib(std::uint64_t bytes) {
  return fmt::format("{:.1f} KiB", static_cast<double>(bytes) / 1024.0);
}

std::string utc_now() {
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return date;
}

}  // namespace packmail::bench
