// Internal to replication/: the bootstrap transfer's rate limiter, with an
// adaptive mode that follows client latency (STORAGE-REPLICATION.md 4,
// Throttling: additive increase, multiplicative decrease).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

#include <nlohmann/json.hpp>
#include <vector>

namespace packmail::replication {

class rate_limiter {
 public:
  // How often the adaptive mode compares client latency with its baseline.
  static constexpr auto k_adapt_interval = std::chrono::milliseconds(200);

  // limit: bytes/s, 0 = none. adaptive: follow record() samples.
  rate_limiter(std::uint64_t limit, bool adaptive);

  // Blocks until n bytes may be sent.
  void acquire(std::uint64_t n);
  // One client-visible call's duration. Thread-safe, cheap.
  void record(std::chrono::microseconds d);
  // A bulk transfer starts / ends: the latency seen without one is the
  // baseline the adaptive mode compares with.
  void set_active(bool active);
  // The current rate, bytes/s (0 = unlimited).
  std::uint64_t rate() const;

 private:
  void adapt(std::chrono::steady_clock::time_point now);

  const std::uint64_t limit_;
  const bool adaptive_;
  mutable std::mutex mutex_;
  std::uint64_t rate_;  // 0 = unlimited
  double tokens_ = 0;
  std::chrono::steady_clock::time_point refilled_ = std::chrono::steady_clock::now();
  bool active_ = false;
  std::vector<std::uint32_t> window_;  // latencies (us) since the last adapt()
  std::uint64_t window_bytes_ = 0;     // bytes acquired since the last adapt()
  std::chrono::steady_clock::time_point window_start_ = std::chrono::steady_clock::now();
  double baseline_p99_us_ = 0;  // p99 without a transfer (moving average)
};

// A bulk transfer's progress for status reports: {"bytes_total",
// "bytes_done", "rate_bytes_per_second", "eta_seconds" (null until a rate)}.
nlohmann::json transfer_progress(std::uint64_t total, std::uint64_t done,
                                 std::chrono::steady_clock::time_point start);

// Linux: nice 10 and the lowest best-effort I/O priority for the calling
// thread while `low` (a bulk transfer), normal after. Raising the priority
// back needs CAP_SYS_NICE; failures only cost priority.
void set_bulk_priority(bool low);

}  // namespace packmail::replication
