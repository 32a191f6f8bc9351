// Test support: drive the LMTP command_parser over an input cut in every
// possible way and check that the events do not depend on the cuts (Beast
// parsegrind). Events are rendered to strings; a DATA command switches the
// parser into message data as the session does after its 354.
#pragma once

#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "packmail/protocols/lmtp/parser.h"

namespace packmail::protocols::lmtp::testing {

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

inline std::string render(const parse_output& o) {
  if (const auto* c = std::get_if<command>(&o)) return "CMD " + c->name + " [" + c->arguments + "]";
  if (const auto* m = std::get_if<message_data>(&o)) {
    if (m->too_large) return "TOO_LARGE " + std::to_string(m->size);
    return "MESSAGE " + std::to_string(m->size) + " " + escape(m->text);
  }
  if (const auto* e = std::get_if<parse_error>(&o)) {
    return "ERROR " + std::to_string(static_cast<int>(e->code)) + " " + e->message;
  }
  return "NEED_MORE";
}

struct driver {
  explicit driver(parser_limits limits = {}) : parser(limits) {}

  void feed(std::string_view chunk) {
    while (true) {
      parse_result r = parser.feed(chunk);
      REQUIRE(r.consumed <= chunk.size());
      chunk.remove_prefix(r.consumed);
      if (std::holds_alternative<need_more>(r.output)) {
        REQUIRE(chunk.empty());
        return;
      }
      events.push_back(render(r.output));
      if (const auto* c = std::get_if<command>(&r.output)) {
        if (c->name == "DATA") parser.expect_data();
      }
    }
  }

  command_parser parser;
  std::vector<std::string> events;
};

inline std::vector<std::string> parse_whole(std::string_view input, parser_limits limits = {}) {
  driver d(limits);
  d.feed(input);
  return d.events;
}

// Feeds `input` whole, cut in two at every offset, cut in three at every
// pair of offsets when short, and byte by byte; requires the same events
// every time and returns them.
inline std::vector<std::string> grind(std::string_view input, parser_limits limits = {}) {
  const std::vector<std::string> whole = parse_whole(input, limits);
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    driver d(limits);
    d.feed(input.substr(0, cut));
    d.feed(input.substr(cut));
    INFO("cut at " << cut << " of " << escape(input));
    REQUIRE(d.events == whole);
  }
  if (input.size() <= 64) {
    for (std::size_t a = 0; a <= input.size(); ++a) {
      for (std::size_t b = a; b <= input.size(); ++b) {
        driver d(limits);
        d.feed(input.substr(0, a));
        d.feed(input.substr(a, b - a));
        d.feed(input.substr(b));
        INFO("cuts at " << a << ", " << b << " of " << escape(input));
        REQUIRE(d.events == whole);
      }
    }
  }
  driver bytes(limits);
  for (char c : input) bytes.feed(std::string_view(&c, 1));
  INFO("byte by byte: " << escape(input));
  REQUIRE(bytes.events == whole);
  return whole;
}

}  // namespace packmail::protocols::lmtp::testing
