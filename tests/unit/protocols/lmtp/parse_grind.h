// Test support: the LMTP command_parser under ../parse_grind.h, which cuts
// an input in every possible way and checks that the events do not depend on
// the cuts. Events are rendered to strings; a DATA command switches the
// parser into message data as the session does after its 354.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "../parse_grind.h"
#include "packmail/protocols/lmtp/parser.h"

namespace packmail::protocols::lmtp::testing {

using protocols::testing::escape;

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

// Inputs up to this long are also cut in three at every pair of offsets.
constexpr std::size_t k_cut_in_three_up_to = 64;

struct driver {
  explicit driver(parser_limits limits = {}) : parser(limits) {}

  void feed(std::string_view chunk) {
    protocols::testing::feed_all<need_more>(parser, chunk, [this](const parse_output& o) {
      events.push_back(render(o));
      if (const auto* c = std::get_if<command>(&o)) {
        if (c->name == "DATA") parser.expect_data();
      }
    });
  }

  command_parser parser;
  std::vector<std::string> events;
};

inline std::vector<std::string> parse_whole(std::string_view input, parser_limits limits = {}) {
  return protocols::testing::parse_whole<driver>(input, limits);
}

// Feeds `input` whole, cut in two at every offset, cut in three at every
// pair of offsets when short, and byte by byte; requires the same events
// every time and returns them.
inline std::vector<std::string> grind(std::string_view input, parser_limits limits = {}) {
  return protocols::testing::grind<driver>(input, limits, k_cut_in_three_up_to);
}

}  // namespace packmail::protocols::lmtp::testing
