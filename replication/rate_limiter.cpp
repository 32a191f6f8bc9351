#include "rate_limiter.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include <spdlog/spdlog.h>

namespace packmail::replication {
namespace {

using clock = std::chrono::steady_clock;
constexpr std::uint64_t k_min_rate = 4ull << 20;   // the floor when backing off
constexpr std::uint64_t k_unlimited = 2ull << 30;  // the ceiling without a limit
constexpr std::size_t k_min_samples = 10;          // fewer: no decision
// Latency over 1.5x the baseline p99 plus this counts as a rise.
constexpr double k_slack_us = 250;

}  // namespace

rate_limiter::rate_limiter(std::uint64_t limit, bool adaptive)
    : limit_(limit), adaptive_(adaptive), rate_(limit) {}

std::uint64_t rate_limiter::rate() const {
  std::lock_guard lock(mutex_);
  return rate_;
}

void rate_limiter::set_active(bool active) {
  std::lock_guard lock(mutex_);
  active_ = active;
  window_.clear();
  window_start_ = clock::now();
  if (!active) rate_ = limit_;
}

void rate_limiter::record(std::chrono::microseconds d) {
  if (!adaptive_) return;
  std::lock_guard lock(mutex_);
  if (window_.size() < 100000) {
    window_.push_back(static_cast<std::uint32_t>(std::min<long>(d.count(), 1 << 30)));
  }
  adapt(clock::now());
}

void rate_limiter::adapt(clock::time_point now) {
  if (now - window_start_ < k_adapt_interval) return;
  const bool enough = window_.size() >= k_min_samples;
  double p99 = 0;
  if (enough) {
    auto at = window_.begin() + static_cast<long>(window_.size() * 99 / 100);
    std::nth_element(window_.begin(), at, window_.end());
    p99 = *at;
  }
  const double elapsed = std::chrono::duration<double>(now - window_start_).count();
  const double measured = elapsed > 0 ? static_cast<double>(window_bytes_) / elapsed : 0;
  window_.clear();
  window_bytes_ = 0;
  window_start_ = now;
  if (!enough) return;
  if (!active_) {
    baseline_p99_us_ = baseline_p99_us_ == 0 ? p99 : 0.8 * baseline_p99_us_ + 0.2 * p99;
    return;
  }
  if (baseline_p99_us_ == 0) return;
  const std::uint64_t ceiling = limit_ ? limit_ : k_unlimited;
  std::uint64_t current = rate_ ? rate_ : ceiling;
  if (p99 > 1.5 * baseline_p99_us_ + k_slack_us) {
    // Half of what actually went through, not of a limit far above it: an
    // unlimited transfer backs off in one step.
    if (measured > 0)
      current = std::min<std::uint64_t>(current, static_cast<std::uint64_t>(measured));
    current = std::max(k_min_rate, current / 2);
    spdlog::debug("replication: client p99 {:.1f} ms over baseline {:.1f} ms; bulk rate {} MiB/s",
                  p99 / 1000, baseline_p99_us_ / 1000, current >> 20);
  } else {
    current = std::min(ceiling, current + std::max<std::uint64_t>(current / 8, 8ull << 20));
  }
  rate_ = (current >= ceiling && limit_ == 0) ? 0 : current;
}

void rate_limiter::acquire(std::uint64_t n) {
  for (;;) {
    std::chrono::microseconds wait{0};
    {
      std::lock_guard lock(mutex_);
      const auto now = clock::now();
      if (adaptive_) adapt(now);
      if (rate_ == 0) {
        window_bytes_ += n;
        return;
      }
      const double elapsed = std::chrono::duration<double>(now - refilled_).count();
      refilled_ = now;
      // At most a quarter second of burst.
      tokens_ = std::min(tokens_ + elapsed * static_cast<double>(rate_),
                         std::max(static_cast<double>(rate_) / 4, static_cast<double>(n)));
      if (tokens_ >= static_cast<double>(n)) {
        tokens_ -= static_cast<double>(n);
        window_bytes_ += n;
        return;
      }
      wait = std::chrono::microseconds(
          static_cast<long>((static_cast<double>(n) - tokens_) / static_cast<double>(rate_) * 1e6));
    }
    std::this_thread::sleep_for(std::min(wait, std::chrono::microseconds(100000)));
  }
}

nlohmann::json transfer_progress(std::uint64_t total, std::uint64_t done,
                                 std::chrono::steady_clock::time_point start) {
  const double elapsed = std::chrono::duration<double>(clock::now() - start).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  return {{"bytes_total", total},
          {"bytes_done", done},
          {"rate_bytes_per_second", rate},
          {"eta_seconds", rate > 0 && total >= done
                              ? nlohmann::json(static_cast<double>(total - done) / rate)
                              : nlohmann::json(nullptr)}};
}

void set_bulk_priority(bool low) {
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  (void)::setpriority(PRIO_PROCESS, tid, low ? 10 : 0);
  constexpr int k_ioprio_class_be = 2, k_ioprio_class_shift = 13, k_ioprio_who_process = 1;
  const int level = low ? 7 : 4;
  (void)::syscall(SYS_ioprio_set, k_ioprio_who_process, static_cast<int>(tid),
                  (k_ioprio_class_be << k_ioprio_class_shift) | level);
}

}  // namespace packmail::replication
