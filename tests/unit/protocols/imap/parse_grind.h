// Test support: the IMAP command_parser under ../parse_grind.h, which cuts
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
#include "packmail/protocols/imap/parser.h"

namespace packmail::protocols::imap::testing {

using protocols::testing::escape;

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
    protocols::testing::feed_all<need_more>(parser, chunk,
                                            [this](const parse_output& o) { on_output(o); });
  }

  void on_output(const parse_output& o) {
    events.push_back(render(o));
    if (const auto* c = std::get_if<command>(&o)) {
      if (c->name == "IDLE") parser.expect_done();
      if (c->name == "AUTHENTICATE" && c->args.size() == 1) {
        // Like a SASL exchange: CRAM-MD5 here takes two client responses, others one.
        sasl_rounds = c->args[0].is_atom("CRAM-MD5") ? 2 : 1;
        parser.expect_sasl_response();
      }
    }
    if (const auto* s = std::get_if<sasl_response>(&o)) {
      if (!s->cancel && --sasl_rounds > 0) parser.expect_sasl_response();
    }
    if (const auto* l = std::get_if<literal_announced>(&o)) {
      if (l->synchronizing && reject_next_sync_literal) {
        reject_next_sync_literal = false;
        parser.reject_literal();
        events.push_back("REJECTED");
      }
    }
  }

  command_parser parser;
  std::vector<std::string> events;
  bool reject_next_sync_literal = false;
  int sasl_rounds = 0;
};

inline std::vector<std::string> parse_whole(std::string_view input, parser_limits limits = {}) {
  return protocols::testing::parse_whole<driver>(input, limits);
}

// Feeds `input` whole, cut in two at every offset, and byte by byte; requires
// the same events every time and returns them.
inline std::vector<std::string> grind(std::string_view input, parser_limits limits = {}) {
  return protocols::testing::grind<driver>(input, limits);
}

}  // namespace packmail::protocols::imap::testing
