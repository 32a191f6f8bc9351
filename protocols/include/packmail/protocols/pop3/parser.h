// The incremental, I/O-free POP3 command parser (RFC 1939 3, RFC 2449 3).
//
// The session feeds received bytes; each feed() consumes a prefix of them and
// reports one event. The caller feeds the unconsumed rest again (possibly
// after reacting to the event), so pipelined commands (RFC 2449 6.6) and the
// switch to a SASL response line (RFC 5034 4) happen exactly between two
// lines:
//
//   std::string_view in = bytes;
//   while (true) {
//     auto r = parser.feed(in);
//     in.remove_prefix(r.consumed);
//     if (std::holds_alternative<need_more>(r.output)) break;  // in is empty
//     ... handle r.output ...
//   }
//
// Lines end with CRLF or a bare LF; the CR is not part of the line.
//
// Memory: the parser holds at most one line of max_line + 1 octets. A longer
// line is reported as soon as it is known to be too long and the rest of it
// is skipped up to its LF without being buffered.
//
// Thread-safety: none; one parser per connection, used from one thread at a
// time.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace packmail::protocols::pop3 {

// Longest line the parser accepts, CRLF excluded. RFC 2449 4 requires 255
// octets (CRLF included) for commands; a SASL response line (RFC 5034 4)
// carries base64 credentials and may be longer, so the default leaves ample
// room for PLAIN with long names and passwords while bounding memory.
// Default: 8 KiB.
inline constexpr std::size_t k_default_max_line = 8 * 1024;

// One command line (RFC 1939 3: keyword, then arguments separated by spaces).
struct command {
  // The keyword in upper case ("RETR"): keywords are case-insensitive.
  std::string name;
  // The arguments, split at runs of spaces; empty arguments are dropped.
  std::vector<std::string> args;
  // Everything after the keyword and the one space that follows it, as sent
  // (RFC 1939 7, PASS: "a POP3 server may treat spaces in the argument as
  // part of the password"). Empty when the line is the keyword alone.
  std::string text;
};

// Every byte given has been consumed; feed more when it arrives.
struct need_more {};

// After expect_sasl_response(): one SASL client response line (RFC 5034 4),
// as sent, without CRLF. cancel is set for "*".
struct sasl_response {
  std::string line;
  bool cancel = false;
};

enum class parse_error_code {
  line_too_long,  // the line exceeds max_line; its rest is skipped
  empty_line,     // a command line with no keyword (empty or only spaces)
};

// The line is abandoned; answer "-ERR <message>". A pending SASL exchange
// ends with it (the parser is back in command mode).
struct parse_error {
  parse_error_code code = parse_error_code::empty_line;
  std::string message;
};

using parse_output = std::variant<need_more, command, sasl_response, parse_error>;

struct parse_result {
  std::size_t consumed = 0;  // octets of the input used; feed the rest again
  parse_output output;
};

class command_parser {
 public:
  explicit command_parser(std::size_t max_line = k_default_max_line);

  // Consumes a prefix of `input` and reports the first event in it, or
  // need_more once all of it is consumed.
  parse_result feed(std::string_view input);

  // The next line is a SASL response, reported as sasl_response. One-shot:
  // call again after each further challenge. Precondition: between two
  // lines (right after an event other than need_more mid-line); aborts
  // otherwise.
  void expect_sasl_response();

  std::size_t max_line() const { return max_line_; }

 private:
  enum class state { line, discard_line };
  enum class mode { command, sasl };

  parse_result on_line(std::size_t consumed, std::string_view line);

  std::size_t max_line_;
  state state_ = state::line;
  mode mode_ = mode::command;
  std::string line_;  // the line being read, up to max_line + 1 octets (the CR)
};

}  // namespace packmail::protocols::pop3
