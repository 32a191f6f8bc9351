#include <catch2/catch.hpp>
#include <thread>

#include "rate_limiter.h"

using namespace packmail::replication;
using namespace std::chrono_literals;

TEST_CASE("without a limit nothing waits", "[rate_limiter]") {
  rate_limiter r(0, false);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) r.acquire(1 << 20);
  CHECK(std::chrono::steady_clock::now() - start < 1s);
  CHECK(r.rate() == 0);
}

TEST_CASE("a limit holds the transfer to its rate after the burst", "[rate_limiter]") {
  rate_limiter r(8 << 20, false);  // 8 MiB/s; at most a quarter second of burst
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i) r.acquire(1 << 20);
  // 4 MiB at 8 MiB/s with an empty bucket: about half a second, never less
  // than the 4 MiB minus a quarter second's burst allows.
  CHECK(std::chrono::steady_clock::now() - start >= 250ms);
}

TEST_CASE("the adaptive rate halves while client latency rises and recovers after",
          "[rate_limiter]") {
  rate_limiter r(64 << 20, true);
  // Samples for `windows` adaptation windows; the first one may still hold
  // the previous latency's samples.
  auto feed = [&](std::chrono::microseconds latency, int windows) {
    const auto end =
        std::chrono::steady_clock::now() + windows * rate_limiter::k_adapt_interval + 20ms;
    while (std::chrono::steady_clock::now() < end) {
      for (int i = 0; i < 50; ++i) r.record(latency);
      std::this_thread::sleep_for(10ms);
    }
  };
  feed(200us, 1);  // the baseline, without a transfer
  r.set_active(true);
  CHECK(r.rate() == 64u << 20);
  feed(20ms, 2);  // client calls 100x slower during the transfer
  const auto backed_off = r.rate();
  CHECK(backed_off <= 32u << 20);
  feed(200us, 4);  // latency back to normal
  CHECK(r.rate() > backed_off);
  r.set_active(false);
  CHECK(r.rate() == 64u << 20);
}
