// libFuzzer target for the POP3 command parser. The first input byte picks
// the line limit and how the input is cut; the rest is fed as received
// bytes. Checks:
// - the events do not depend on the cuts (whole input vs. cut input);
// - need_more always consumes everything, and consumed never exceeds input;
// - no line longer than the limit is ever reported, and a command's keyword
//   is upper case with no space in it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "packmail/protocols/pop3/parser.h"

using namespace packmail::protocols::pop3;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

struct run {
  std::vector<std::string> events;

  void feed(command_parser& parser, std::string_view chunk) {
    while (true) {
      parse_result r = parser.feed(chunk);
      require(r.consumed <= chunk.size());
      chunk.remove_prefix(r.consumed);
      if (std::holds_alternative<need_more>(r.output)) {
        require(chunk.empty());
        return;
      }
      std::string e = std::to_string(r.output.index()) + ":";
      if (auto* c = std::get_if<command>(&r.output)) {
        require(!c->name.empty() && c->name.size() <= parser.max_line());
        for (char ch : c->name) require(ch != ' ' && !(ch >= 'a' && ch <= 'z'));
        require(c->text.size() <= parser.max_line());
        e += c->name + "|" + c->text;
        for (const std::string& a : c->args) {
          require(!a.empty() && a.find(' ') == std::string::npos);
          e += "|" + a;
        }
        // As the session does: AUTH <mechanism> waits for a SASL line.
        if (c->name == "AUTH" && c->args.size() == 1) parser.expect_sasl_response();
      } else if (auto* s = std::get_if<sasl_response>(&r.output)) {
        require(s->line.size() <= parser.max_line());
        require(s->cancel == (s->line == "*"));
        e += s->line;
      } else if (auto* err = std::get_if<parse_error>(&r.output)) {
        e += std::to_string(static_cast<int>(err->code)) + err->message;
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
  const std::size_t max_line = (control & 1) ? 16 : k_default_max_line;

  command_parser whole_parser(max_line);
  run whole;
  whole.feed(whole_parser, input);

  // The same input in chunks of 1..16 octets (from the control byte).
  const std::size_t step = 1 + (control >> 4);
  command_parser cut_parser(max_line);
  run cut;
  for (std::size_t i = 0; i < input.size(); i += step) cut.feed(cut_parser, input.substr(i, step));
  require(whole.events == cut.events);
  return 0;
}
