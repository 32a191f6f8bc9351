// What the protocol benchmarks measure besides the protocol: latencies, the
// load generator's own CPU share, a server's CPU and memory (one process or a
// whole process tree, as Dovecot forks one process per connection), and the
// machine they ran on.
//
// Thread-safety: latency_recorder is not thread-safe (the load generators
// run on one thread); the free functions may be called from any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace packmail::bench {

// Durations, kept whole (microseconds) so percentiles are exact.
class latency_recorder {
 public:
  void add(std::chrono::steady_clock::duration d);
  std::size_t count() const { return micros_.size(); }
  // p in [0, 100]; 0 when empty. Nearest-rank percentile.
  double percentile_ms(double p) const;
  double mean_ms() const;
  double max_ms() const;
  // {"count", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms"}
  nlohmann::ordered_json to_json() const;

 private:
  mutable std::vector<std::uint32_t> micros_;
  mutable bool sorted_ = true;
};

// sync, then drop clean pages, dentries and inodes (as root), so the next
// read comes from the disk. nullopt when done; otherwise why it could not.
std::optional<std::string> drop_page_cache();

// This process's CPU time (user + system, all threads), seconds.
double self_cpu_seconds();

// Whole-machine CPU ticks from /proc/stat.
struct machine_ticks {
  std::uint64_t busy = 0;   // user nice system irq softirq steal
  std::uint64_t total = 0;  // busy + idle + iowait
};
machine_ticks read_machine_ticks();
// Share of the machine busy between two samples, in percent.
double busy_percent(const machine_ticks& a, const machine_ticks& b);
// The machine's busy share over the next `window` (sleeps that long): printed
// before a run, since other work on the machine distorts every figure.
double machine_busy_over(std::chrono::milliseconds window);

// root and every live descendant, found through /proc/*/stat.
std::vector<pid_t> process_tree(pid_t root);

// CPU seconds of a process tree: utime + stime + cutime + cstime of every live
// process in it, so a child that exited (and was reaped inside the tree)
// still counts, in its parent's cutime.
double tree_cpu_seconds(pid_t root);

// Memory of a process tree, summed over its processes. RSS counts shared
// pages once per process; PSS (/proc/PID/smaps_rollup) divides them among the
// processes sharing them, so the PSS sum is the tree's real footprint.
struct tree_memory {
  std::uint64_t rss_bytes = 0;
  std::uint64_t pss_bytes = 0;
  std::size_t processes = 0;
};
tree_memory measure_tree_memory(pid_t root);

// The machine, for the report header and the JSON.
std::string cpu_model();
std::uint64_t total_memory_bytes();
std::string kernel_release();
unsigned cpu_count();
nlohmann::ordered_json machine_json();
std::string machine_line();  // "2 cores (model), 23.5 GiB memory, kernel X"

// Raises RLIMIT_NOFILE's soft limit to the hard limit (children inherit it).
// Returns the new soft limit.
std::uint64_t raise_open_file_limit();

// 12,345 (rounded to an integer); 1.2 below 100.
std::string with_commas(double v);
std::string kib(std::uint64_t bytes);  // "523.0 KiB"
std::string utc_now();                 // 2024-01-02T03:04:05Z

}  // namespace packmail::bench
