// Test support: the pop3::command_parser under ../parse_grind.h, which cuts
// an input in every possible way and checks that the events do not depend on
// the cuts. Events are rendered to strings so that a test compares and
// prints them easily.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "../parse_grind.h"
#include "packmail/protocols/pop3/parser.h"

namespace packmail::protocols::pop3::testing {

using protocols::testing::escape;

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
    protocols::testing::feed_all<need_more>(parser, chunk, [this](const parse_output& o) {
      events.push_back(render(o));
      if (const auto* c = std::get_if<command>(&o)) {
        if (c->name == "AUTH" && c->args.size() == 1) parser.expect_sasl_response();
      }
    });
  }

  command_parser parser;
  std::vector<std::string> events;
};

inline std::vector<std::string> parse_whole(std::string_view input,
                                            std::size_t max_line = k_default_max_line) {
  return protocols::testing::parse_whole<driver>(input, max_line);
}

// Feeds `input` whole, cut in two at every offset, and byte by byte; requires
// the same events every time and returns them.
inline std::vector<std::string> grind(std::string_view input,
                                      std::size_t max_line = k_default_max_line) {
  return protocols::testing::grind<driver>(input, max_line);
}

}  // namespace packmail::protocols::pop3::testing
