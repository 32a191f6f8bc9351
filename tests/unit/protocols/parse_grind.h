// Test support shared by the protocol parsers' tests (IMAP, POP3, LMTP):
// drive a parser over an input cut in every possible way and check that the
// events do not depend on the cuts (Beast parsegrind, Dovecot
// test-imap-parser). Each protocol's parse_grind.h brings a `driver` (the
// parser, a session stand-in that switches the parser's modes, and the events
// rendered to strings) and instantiates these for it.
#pragma once

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace packmail::protocols::testing {

// `s` as printable ASCII: control bytes, bytes above 0x7e and '\' as "\xNN".
inline std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Feeds `chunk` to `parser` until all of it is consumed, calling
// on_output(output) for every output but NeedMore (the protocol's need_more).
// Requires that the parser consumes no more than it was given, and that it
// asks for more only when the chunk is used up.
template <class NeedMore, class Parser, class OnOutput>
void feed_all(Parser& parser, std::string_view chunk, OnOutput&& on_output) {
  while (true) {
    auto r = parser.feed(chunk);
    REQUIRE(r.consumed <= chunk.size());
    chunk.remove_prefix(r.consumed);
    if (std::holds_alternative<NeedMore>(r.output)) {
      REQUIRE(chunk.empty());
      return;
    }
    on_output(r.output);
  }
}

// Driver: constructible from Limits, with feed(std::string_view) and
// `events` (std::vector<std::string>).
template <class Driver, class Limits>
std::vector<std::string> parse_whole(std::string_view input, const Limits& limits) {
  Driver d(limits);
  d.feed(input);
  return d.events;
}

// Feeds `input` whole, cut in two at every offset, cut in three at every pair
// of offsets when it is at most `cut_in_three_up_to` bytes long (default:
// never), and byte by byte; requires the same events every time and returns
// them.
template <class Driver, class Limits>
std::vector<std::string> grind(std::string_view input, const Limits& limits,
                               std::optional<std::size_t> cut_in_three_up_to = std::nullopt) {
  const std::vector<std::string> whole = parse_whole<Driver>(input, limits);
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    Driver d(limits);
    d.feed(input.substr(0, cut));
    d.feed(input.substr(cut));
    INFO("cut at " << cut << " of " << escape(input));
    REQUIRE(d.events == whole);
  }
  if (cut_in_three_up_to && input.size() <= *cut_in_three_up_to) {
    for (std::size_t a = 0; a <= input.size(); ++a) {
      for (std::size_t b = a; b <= input.size(); ++b) {
        Driver d(limits);
        d.feed(input.substr(0, a));
        d.feed(input.substr(a, b - a));
        d.feed(input.substr(b));
        INFO("cuts at " << a << ", " << b << " of " << escape(input));
        REQUIRE(d.events == whole);
      }
    }
  }
  Driver bytes(limits);
  for (char c : input) bytes.feed(std::string_view(&c, 1));
  INFO("byte by byte: " << escape(input));
  REQUIRE(bytes.events == whole);
  return whole;
}

}  // namespace packmail::protocols::testing
