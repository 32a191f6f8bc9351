// RFC 3501 / RFC 9051 sequence sets: "1:*,3,5:7", and "$" (RFC 5182
// SEARCHRES: the result saved by the last SEARCH ... RETURN (SAVE)).
// "*" stays symbolic until resolve() is given the largest number in use.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "packmail/protocols/imap/syntax.h"

namespace packmail::protocols::imap {

// An inclusive range of message sequence numbers or UIDs; first <= last.
struct sequence_range {
  std::uint32_t first = 0;
  std::uint32_t last = 0;
  friend bool operator==(const sequence_range&, const sequence_range&) = default;
};

class sequence_set {
 public:
  // One element as written: k_star stands for "*".
  static constexpr std::uint32_t k_star = 0;
  struct element {
    std::uint32_t from = 0;  // k_star or 1..4294967295
    std::uint32_t to = 0;    // equal to from for a single number
    friend bool operator==(const element&, const element&) = default;
  };

  // RFC 9051 9: sequence-set = (seq-number / seq-range) ["," sequence-set]
  //             / seq-last-command;  seq-number = nz-number / "*"
  static syntax_result<sequence_set> parse(std::string_view text);

  const std::vector<element>& elements() const { return elements_; }
  // The set names "$", the saved search result (possibly among others).
  bool uses_saved_result() const { return uses_saved_; }
  // The set holds a "*".
  bool uses_star() const;

  // The numbers named, sorted and merged, with "*" standing for `largest`
  // (the message count, or the highest UID; 0 when the mailbox is empty) and
  // "$" for `saved`. RFC 3501 6.4.8 / RFC 9051 6.4.9: "n:*" with n above the
  // largest number means "largest:n" and so still names the largest number.
  // Numbers above `largest` are kept: for UIDs they simply match nothing,
  // for sequence numbers the caller answers BAD.
  std::vector<sequence_range> resolve(std::uint32_t largest,
                                      std::span<const sequence_range> saved = {}) const;

 private:
  std::vector<element> elements_;
  bool uses_saved_ = false;
};

// Sorts and merges overlapping or adjacent ranges.
std::vector<sequence_range> normalize(std::vector<sequence_range> ranges);
// Whether `n` is in sorted, merged `ranges` (as resolve() returns).
bool contains(std::span<const sequence_range> ranges, std::uint32_t n);

}  // namespace packmail::protocols::imap
