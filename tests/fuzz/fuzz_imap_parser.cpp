// libFuzzer target for the IMAP command parser and its typed argument
// grammars. The first input byte picks the limits and how the input is cut;
// the rest is fed as received bytes. Checks:
// - the events do not depend on the cuts (whole input vs. cut input);
// - need_more always consumes everything, and consumed never exceeds input;
// - modified UTF-7 round-trips: decode(encode(utf8)) == utf8, and a valid
//   mUTF-7 name re-encodes to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "packmail/protocols/imap/append_arguments.h"
#include "packmail/protocols/imap/fetch_attributes.h"
#include "packmail/protocols/imap/mailbox_name.h"
#include "packmail/protocols/imap/parser.h"
#include "packmail/protocols/imap/search_keys.h"
#include "packmail/protocols/imap/sequence_set.h"
#include "packmail/protocols/imap/store_arguments.h"

using namespace packmail::protocols::imap;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

std::string render(const token& t) {
  std::string out = std::to_string(static_cast<int>(t.kind)) + ":" + t.text;
  if (t.is_list()) {
    out += "(";
    for (const token& c : t.children) out += render(c) + " ";
    out += ")";
  }
  return out;
}

void exercise_typed(command& c) {
  if (c.name == "FETCH") {
    (void)parse_fetch(c.args, c.uid);
  } else if (c.name == "SEARCH") {
    auto r = parse_search(c.args);
    if (r.ok()) {
      for (const search_key& k : r.value().key.children) {
        if (k.what == search_key::kind::sequence_numbers) (void)k.set.resolve(100);
      }
    }
  } else if (c.name == "STORE") {
    auto r = parse_store(c.args);
    if (r.ok()) {
      auto ranges = r.value().set.resolve(7, std::vector<sequence_range>{{2, 3}});
      for (std::size_t i = 1; i < ranges.size(); ++i) require(ranges[i - 1].last < ranges[i].first);
    }
  } else if (c.name == "APPEND") {
    std::vector<token> copy = c.args;
    (void)parse_append(std::move(copy));
  }
  for (const token& t : c.args) {
    if (auto name = t.astring()) {
      auto utf8 = mutf7_to_utf8(*name);
      if (utf8.ok()) {
        auto back = utf8_to_mutf7(utf8.value());
        require(back.ok() && back.value() == *name);
      }
    }
  }
}

struct run {
  std::vector<std::string> events;

  void feed(command_parser& parser, std::string_view chunk, bool typed) {
    while (true) {
      parse_result r = parser.feed(chunk);
      require(r.consumed <= chunk.size());
      chunk.remove_prefix(r.consumed);
      if (std::holds_alternative<need_more>(r.output)) {
        require(chunk.empty());
        return;
      }
      std::string e = std::to_string(r.output.index());
      if (auto* c = std::get_if<command>(&r.output)) {
        e += c->tag + " " + c->name;
        for (const token& t : c->args) e += " " + render(t);
        if (typed) exercise_typed(*c);
        if (c->name == "IDLE") parser.expect_done();
        if (c->name == "AUTHENTICATE") parser.expect_sasl_response();
      } else if (auto* l = std::get_if<literal_announced>(&r.output)) {
        e += std::to_string(l->size);
        // Refuse big synchronizing literals as a session over quota would.
        if (l->synchronizing && l->size > 1000) {
          parser.reject_literal();
          e += "rejected";
        }
      } else if (auto* err = std::get_if<parse_error>(&r.output)) {
        e += err->tag + err->message + (err->close ? "close" : "");
      } else if (auto* s = std::get_if<sasl_response>(&r.output)) {
        e += s->line;
      }
      events.push_back(std::move(e));
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t control = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  parser_limits limits;
  if (control & 1) {
    limits.max_line = 64;
    limits.max_literal = 16;
    limits.max_append_literal = 256;
    limits.max_command = 512;
    limits.max_depth = 4;
    limits.max_tokens = 32;
  }
  if (control & 2) limits.non_sync = non_sync_literals::minus;
  limits.utf8_quoted = (control & 4) != 0;

  command_parser whole_parser(limits);
  run whole;
  whole.feed(whole_parser, input, true);

  // The same input in chunks of 1..16 octets (from the control byte).
  const std::size_t step = 1 + (control >> 4);
  command_parser cut_parser(limits);
  run cut;
  for (std::size_t i = 0; i < input.size(); i += step) {
    cut.feed(cut_parser, input.substr(i, step), false);
  }
  require(whole.events == cut.events);

  // mUTF-7 both ways on the raw input.
  auto utf8 = mutf7_to_utf8(input);
  if (utf8.ok()) {
    auto back = utf8_to_mutf7(utf8.value());
    require(back.ok() && back.value() == input);
  }
  auto encoded = utf8_to_mutf7(input);
  if (encoded.ok()) {
    auto decoded = mutf7_to_utf8(encoded.value());
    require(decoded.ok() && decoded.value() == input);
  }
  (void)sequence_set::parse(input);
  (void)parse_fetch_item(input);
  (void)parse_date_time(input);
  return 0;
}
