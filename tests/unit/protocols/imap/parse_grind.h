// Test support: drive a command_parser over an input cut in every possible
// way and check that the events do not depend on the cuts (Beast parsegrind,
// Dovecot test-imap-parser). Events are rendered to strings so that a test
// compares and prints them easily.
#pragma once

#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "packmail/protocols/imap/parser.h"

namespace packmail::protocols::imap::testing {

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

inline std::string render(const token& t) {
  switch (t.kind) {
    case token_kind::atom:
      return "A:" + escape(t.text);
    case token_kind::number:
      return "N:" + std::to_string(t.number);
    case token_kind::quoted:
      return "Q:\"" + escape(t.text) + "\"";
    case token_kind::literal:
      return "L:\"" + escape(t.text) + "\"";
    case token_kind::literal8:
      return "L8:\"" + escape(t.text) + "\"";
    case token_kind::nil:
      return "NIL";
    case token_kind::section:
      return "S:" + escape(t.text);
    case token_kind::list: {
      std::string out = "(";
      for (std::size_t i = 0; i < t.children.size(); ++i) {
        if (i > 0) out += " ";
        out += render(t.children[i]);
      }
      return out + ")";
    }
  }
  return "?";
}

inline std::string render(const command& c) {
  std::string out = "CMD " + c.tag + " " + (c.uid ? "UID " : "") + c.name;
  for (const token& t : c.args) out += " " + render(t);
  return out;
}

inline std::string render(const parse_output& o) {
  if (const auto* c = std::get_if<command>(&o)) return render(*c);
  if (const auto* l = std::get_if<literal_announced>(&o)) {
    return "LITERAL " + std::to_string(l->size) + (l->synchronizing ? " sync" : " nonsync") +
           (l->literal8 ? " literal8" : "") + (l->append_data ? " append" : "");
  }
  if (const auto* e = std::get_if<parse_error>(&o)) {
    return "ERROR " + std::to_string(static_cast<int>(e->code)) + " tag=" + e->tag +
           (e->close ? " close" : "") + " " + e->message;
  }
  if (std::holds_alternative<idle_done>(o)) return "DONE";
  if (const auto* s = std::get_if<sasl_response>(&o)) {
    return std::string("SASL ") + (s->cancel ? "cancel " : "") + escape(s->line);
  }
  return "NEED_MORE";
}

// A session stand-in: switches modes the way the IMAP session will.
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
        if (c->name == "IDLE") parser.expect_done();
        if (c->name == "AUTHENTICATE" && c->args.size() == 1) {
          // Like a SASL exchange: CRAM-MD5 here takes two client responses, others one.
          sasl_rounds = c->args[0].is_atom("CRAM-MD5") ? 2 : 1;
          parser.expect_sasl_response();
        }
      }
      if (const auto* s = std::get_if<sasl_response>(&r.output)) {
        if (!s->cancel && --sasl_rounds > 0) parser.expect_sasl_response();
      }
      if (const auto* l = std::get_if<literal_announced>(&r.output)) {
        if (l->synchronizing && reject_next_sync_literal) {
          reject_next_sync_literal = false;
          parser.reject_literal();
          events.push_back("REJECTED");
        }
      }
    }
  }

  command_parser parser;
  std::vector<std::string> events;
  bool reject_next_sync_literal = false;
  int sasl_rounds = 0;
};

inline std::vector<std::string> parse_whole(std::string_view input, parser_limits limits = {}) {
  driver d(limits);
  d.feed(input);
  return d.events;
}

// Feeds `input` whole, cut in two at every offset, and byte by byte; requires
// the same events every time and returns them.
inline std::vector<std::string> grind(std::string_view input, parser_limits limits = {}) {
  const std::vector<std::string> whole = parse_whole(input, limits);
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    driver d(limits);
    d.feed(input.substr(0, cut));
    d.feed(input.substr(cut));
    INFO("cut at " << cut << " of " << escape(input));
    REQUIRE(d.events == whole);
  }
  driver bytes(limits);
  for (char c : input) bytes.feed(std::string_view(&c, 1));
  INFO("byte by byte: " << escape(input));
  REQUIRE(bytes.events == whole);
  return whole;
}

}  // namespace packmail::protocols::imap::testing
