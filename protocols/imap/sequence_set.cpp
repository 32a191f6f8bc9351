#include "packmail/protocols/imap/sequence_set.h"

#include <algorithm>

namespace packmail::protocols::imap {

namespace {

// nz-number = digit-nz *DIGIT ; 32-bit
bool parse_seq_number(std::string_view text, std::uint32_t& out) {
  if (text == "*") {
    out = sequence_set::k_star;
    return true;
  }
  if (text.empty() || text.size() > 10 || text[0] < '1' || text[0] > '9') return false;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (value > UINT32_MAX) return false;
  out = static_cast<std::uint32_t>(value);
  return true;
}

}  // namespace

syntax_result<sequence_set> sequence_set::parse(std::string_view text) {
  sequence_set set;
  if (text.empty()) return make_syntax_error("Empty sequence set");
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    const std::string_view part =
        text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    if (part == "$") {
      set.uses_saved_ = true;
    } else {
      const std::size_t colon = part.find(':');
      element e;
      if (colon == std::string_view::npos) {
        if (!parse_seq_number(part, e.from)) return make_syntax_error("Invalid sequence set");
        e.to = e.from;
      } else if (!parse_seq_number(part.substr(0, colon), e.from) ||
                 !parse_seq_number(part.substr(colon + 1), e.to)) {
        return make_syntax_error("Invalid sequence set");
      }
      set.elements_.push_back(e);
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return set;
}

bool sequence_set::uses_star() const {
  return std::any_of(elements_.begin(), elements_.end(),
                     [](const element& e) { return e.from == k_star || e.to == k_star; });
}

std::vector<sequence_range> sequence_set::resolve(std::uint32_t largest,
                                                  std::span<const sequence_range> saved) const {
  std::vector<sequence_range> ranges;
  ranges.reserve(elements_.size() + (uses_saved_ ? saved.size() : 0));
  for (const element& e : elements_) {
    std::uint32_t a = e.from == k_star ? largest : e.from;
    std::uint32_t b = e.to == k_star ? largest : e.to;
    if (a > b) std::swap(a, b);
    if (b == 0) continue;  // "*" in an empty mailbox
    ranges.push_back({std::max<std::uint32_t>(a, 1), b});
  }
  if (uses_saved_) ranges.insert(ranges.end(), saved.begin(), saved.end());
  return normalize(std::move(ranges));
}

std::vector<sequence_range> normalize(std::vector<sequence_range> ranges) {
  std::sort(ranges.begin(), ranges.end(), [](const sequence_range& x, const sequence_range& y) {
    return x.first < y.first || (x.first == y.first && x.last < y.last);
  });
  std::vector<sequence_range> out;
  for (const sequence_range& r : ranges) {
    if (!out.empty() && static_cast<std::uint64_t>(out.back().last) + 1 >= r.first) {
      out.back().last = std::max(out.back().last, r.last);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

bool contains(std::span<const sequence_range> ranges, std::uint32_t n) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), n,
                             [](std::uint32_t v, const sequence_range& r) { return v < r.first; });
  if (it == ranges.begin()) return false;
  --it;
  return n <= it->last;
}

}  // namespace packmail::protocols::imap
