// Test support: drive a pop3::command_parser over an input cut in every
// possible way and check that the events do not depend on the cuts (Beast
// parsegrind). Events are rendered to strings so that a test compares and
// prints them easily.
#pragma once

#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "packmail/protocols/pop3/parser.h"

namespace packmail::protocols::pop3::testing {

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

// "CMD RETR [1] text=1", "SASL cancel *", "ERROR line_too_long Line too long".
inline std::string render(const parse_output& o) {
  if (const auto* c = std::get_if<command>(&o)) {
    std::string out = "CMD " + escape(c->name);
    for (const std::string& a : c->args) out += " [" + escape(a) + "]";
    return out + " text=" + escape(c->text);
  }
  if (const auto* s = std::get_if<sasl_response>(&o)) {
    return std::string("SASL ") + (s->cancel ? "cancel " : "") + escape(s->line);
  }
  if (const auto* e = std::get_if<parse_error>(&o)) {
    const char* code = e->code == parse_error_code::line_too_long ? "line_too_long" : "empty_line";
    return std::string("ERROR ") + code + " " + e->message;
  }
  return "NEED_MORE";
}

// A session stand-in: AUTH with a mechanism alone waits for one SASL line.
struct driver {
  explicit driver(std::size_t max_line = k_default_max_line) : parser(max_line) {}

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
        if (c->name == "AUTH" && c->args.size() == 1) parser.expect_sasl_response();
      }
    }
  }

  command_parser parser;
  std::vector<std::string> events;
};

inline std::vector<std::string> parse_whole(std::string_view input,
                                            std::size_t max_line = k_default_max_line) {
  driver d(max_line);
  d.feed(input);
  return d.events;
}

// Feeds `input` whole, cut in two at every offset, and byte by byte; requires
// the same events every time and returns them.
inline std::vector<std::string> grind(std::string_view input,
                                      std::size_t max_line = k_default_max_line) {
  const std::vector<std::string> whole = parse_whole(input, max_line);
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    driver d(max_line);
    d.feed(input.substr(0, cut));
    d.feed(input.substr(cut));
    INFO("cut at " << cut << " of " << escape(input));
    REQUIRE(d.events == whole);
  }
  driver bytes(max_line);
  for (char c : input) bytes.feed(std::string_view(&c, 1));
  INFO("byte by byte: " << escape(input));
  REQUIRE(bytes.events == whole);
  return whole;
}

}  // namespace packmail::protocols::pop3::testing
