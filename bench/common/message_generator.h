// Realistic small RFC 5322 messages for the benchmarks.
//
// Each message looks like what a local delivery agent stores for a small
// plain-text mail: Return-Path and Delivered-To, one or two Received lines,
// From/To/Subject/Date/Message-ID, MIME-Version, Content-Type and
// Content-Transfer-Encoding, then a varied text body wrapped at 72 columns,
// with CRLF line endings throughout.
//
// Deterministic: message(i) depends only on (seed, i, recipient), so messages
// may be generated in any order, on any thread, and two runs with the same
// seed store the same bytes.
//
// Thread-safety: a message_generator is immutable after construction;
// message() may be called concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace packmail::bench {

class message_generator {
 public:
  // Sizes are drawn uniformly from [mean_size * 3/4, mean_size * 5/4]; the
  // body is cut to hit the drawn size, but is never shorter than a couple of
  // lines, so very small means overshoot. Default: about 800 bytes.
  explicit message_generator(std::uint64_t seed, std::size_t mean_size = 800);

  // The index-th message, addressed to `recipient` (an address such as
  // "user0042@example.com").
  std::string message(std::uint64_t index, std::string_view recipient) const;

  std::uint64_t seed() const { return seed_; }
  std::size_t mean_size() const { return mean_size_; }

 private:
  std::uint64_t seed_;
  std::size_t mean_size_;
};

}  // namespace packmail::bench
