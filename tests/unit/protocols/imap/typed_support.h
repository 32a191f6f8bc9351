// Test support for the typed argument parsers: parse one command line and
// hand its arguments over.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <variant>

#include "packmail/protocols/imap/parser.h"
#include "parse_grind.h"

namespace packmail::protocols::imap::testing {

// Parses a complete command (literals inline, LITERAL+ style) and returns
// it, after checking that every cut of the input parses the same (grind).
inline command parse_command(std::string_view input) {
  (void)grind(input);
  command_parser parser;
  while (true) {
    parse_result r = parser.feed(input);
    input.remove_prefix(r.consumed);
    if (auto* c = std::get_if<command>(&r.output)) return std::move(*c);
    if (auto* e = std::get_if<parse_error>(&r.output)) FAIL("parse error: " << e->message);
    REQUIRE(!std::holds_alternative<need_more>(r.output));
  }
}

}  // namespace packmail::protocols::imap::testing
