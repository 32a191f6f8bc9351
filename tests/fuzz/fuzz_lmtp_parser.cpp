// libFuzzer target for the LMTP parser (command lines and DATA with
// dot-unstuffing) and the MAIL/RCPT/LHLO argument grammar. The first input
// byte picks the limits and how the input is cut; the rest is fed as received
// bytes, switching into message data after each DATA as the session does.
// Checks:
// - the events do not depend on the cuts (whole input vs. cut input);
// - need_more always consumes everything, and consumed never exceeds input;
// - a message kept has CRLF line ends only, its size is its length, and it
//   fits the limit; a command holds no CR, LF or NUL;
// - parsed addresses are printable ASCII with a non-empty local part.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "packmail/protocols/lmtp/arguments.h"
#include "packmail/protocols/lmtp/parser.h"

using namespace packmail::protocols::lmtp;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

bool printable(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) return false;
  }
  return true;
}

void check_address(const address& a) {
  require(!a.local_part.empty() || a.text.starts_with("\"\""));
  require(printable(a.text) && printable(a.local_part) && printable(a.domain));
}

std::string exercise_arguments(const command& c) {
  std::string out;
  if (c.name == "MAIL") {
    auto r = parse_mail_arguments(c.arguments);
    if (auto* m = std::get_if<mail_arguments>(&r)) {
      if (m->sender) {
        check_address(*m->sender);
        out = m->sender->text;
      }
    } else {
      out = "E" + std::get<argument_error>(r).message;
    }
  } else if (c.name == "RCPT") {
    auto r = parse_rcpt_arguments(c.arguments);
    if (auto* a = std::get_if<rcpt_arguments>(&r)) {
      check_address(a->recipient);
      out = a->recipient.text;
    } else {
      out = "E" + std::get<argument_error>(r).message;
    }
  } else if (c.name == "LHLO") {
    out = is_valid_client_name(c.arguments) ? "ok" : "bad";
  }
  return out;
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
        require(!c->name.empty());
        for (std::string_view s : {std::string_view(c->name), std::string_view(c->arguments)}) {
          require(s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos);
        }
        e += c->name + " " + c->arguments;
        if (typed) exercise_arguments(*c);
        if (c->name == "DATA") {
          parser.expect_data();
          require(parser.in_data());
        }
      } else if (auto* m = std::get_if<message_data>(&r.output)) {
        require(!parser.in_data());
        if (m->too_large) {
          require(m->text.empty() && m->size > parser.limits().max_message_size);
        } else {
          require(m->size == m->text.size() && m->size <= parser.limits().max_message_size);
          for (std::size_t i = 0; i < m->text.size(); ++i) {
            if (m->text[i] == '\n') require(i > 0 && m->text[i - 1] == '\r');
          }
          require(m->text.empty() || m->text.ends_with("\r\n"));
        }
        e += std::to_string(m->size) + (m->too_large ? "big" : m->text);
      } else if (auto* err = std::get_if<parse_error>(&r.output)) {
        e += err->message;
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
    limits.max_line = 32;
    limits.max_message_size = 64;
  }

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

  // The argument grammar on the raw input.
  for (std::string_view s : {input, input.substr(input.size() / 2)}) {
    auto m = parse_mail_arguments(s);
    if (auto* a = std::get_if<mail_arguments>(&m); a && a->sender) check_address(*a->sender);
    auto r = parse_rcpt_arguments(s);
    if (auto* a = std::get_if<rcpt_arguments>(&r)) check_address(a->recipient);
    (void)is_valid_client_name(s);
  }
  return 0;
}
