// The incremental, I/O-free IMAP command parser (RFC 3501 / RFC 9051 command
// syntax, LITERAL+ / LITERAL- from RFC 7888, literal8 from RFC 3516).
//
// The session feeds received bytes; each feed() consumes a prefix of them and
// reports one event. The caller feeds the unconsumed rest again (possibly
// after reacting to the event), so pipelined commands and mode switches
// (IDLE, AUTHENTICATE) happen exactly between two commands:
//
//   std::string_view in = bytes;
//   while (true) {
//     auto r = parser.feed(in);
//     in.remove_prefix(r.consumed);
//     if (std::holds_alternative<need_more>(r.output)) break;  // in is empty
//     ... handle r.output ...
//   }
//
// Memory: the parser holds at most one line (max_line) plus the literals of
// the command being read, all bounded by parser_limits; over-limit input is
// reported and skipped, never buffered.
//
// Thread-safety: none; one parser per connection, used from one thread at a
// time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "packmail/protocols/imap/syntax.h"

namespace packmail::protocols::imap {

// Which non-synchronizing literals the server advertised (RFC 7888).
enum class non_sync_literals {
  plus,   // LITERAL+: {n+} of any size up to the literal limits
  minus,  // LITERAL-: {n+} only up to 4096 octets (bigger is BAD [TOOBIG])
};

struct parser_limits {
  // Longest line of command text, CRLF and literal data excluded. Default: 64 KiB.
  std::size_t max_line = 64 * 1024;
  // Largest literal in any command but APPEND's message data. Default: 64 KiB.
  std::uint64_t max_literal = 64 * 1024;
  // Largest APPEND message data (every literal after the mailbox name),
  // summed over the messages of a MULTIAPPEND. Also the most octets of an
  // over-size non-synchronizing literal the parser reads and discards to keep
  // the connection; beyond that the connection must close. Default: 64 MiB.
  std::uint64_t max_append_literal = 64 * 1024 * 1024;
  // Largest whole command: its lines (with CRLF) plus its literals other than
  // APPEND message data. Default: 1 MiB.
  std::size_t max_command = 1024 * 1024;
  // Deepest nesting of parenthesized lists. Default: 16.
  std::size_t max_depth = 16;
  // Most tokens in one command (each list counts as one, plus its elements).
  // Default: 4096.
  std::size_t max_tokens = 4096;
  // Default: LITERAL+.
  non_sync_literals non_sync = non_sync_literals::plus;
  // Accept 8-bit octets in quoted strings (UTF8=ACCEPT, RFC 6855 / IMAP4rev2).
  // RFC 3501 forbids them. Default: false.
  bool utf8_quoted = false;
};

// What went wrong, so the session can pick the response code.
enum class parse_error_code {
  syntax,             // BAD
  empty_line,         // BAD (untagged: there is no tag)
  line_too_long,      // BAD
  literal_too_large,  // BAD [TOOBIG] (RFC 7888 5 for APPEND; RFC 4469)
  command_too_large,  // BAD [TOOBIG]
  too_deep,           // BAD
  too_many_tokens,    // BAD
  expected_done,      // the line after IDLE was not DONE: end IDLE with a tagged BAD
};

// The current command is abandoned. Answer "<tag> BAD <message>", or
// "* BAD <message>" when tag is empty; when close is set, answer
// "* BYE <message>" and close the connection instead. After an error the
// parser skips the rest of the bad command by itself (the remaining line, and
// any non-synchronizing literal it announces) and may report a second error
// with close set if it cannot.
struct parse_error {
  parse_error_code code = parse_error_code::syntax;
  std::string tag;
  std::string message;
  bool close = false;
};

// Every byte given has been consumed; feed more when it arrives.
struct need_more {};

// The line just read ends with a literal announcement. When synchronizing,
// the server must now send a continuation ("+ Ready\r\n") before the client
// sends the data, or refuse the command with a tagged NO/BAD and call
// command_parser::reject_literal(). A non-synchronizing literal's data follows
// anyway; the event is informational. pending_command() shows the command so
// far (tag, name, arguments before the literal).
struct literal_announced {
  std::uint64_t size = 0;
  bool synchronizing = true;
  bool literal8 = false;
  bool append_data = false;  // counts against max_append_literal
};

// After expect_done(): the client sent DONE (RFC 2177).
struct idle_done {};

// After expect_sasl_response(): one SASL client response line (RFC 3501
// 6.2.2), base64 as sent, without CRLF. cancel is set for "*".
struct sasl_response {
  std::string line;
  bool cancel = false;
};

using parse_output =
    std::variant<need_more, literal_announced, command, idle_done, sasl_response, parse_error>;

struct parse_result {
  std::size_t consumed = 0;  // octets of the input used; feed the rest again
  parse_output output;
};

class command_parser {
 public:
  explicit command_parser(parser_limits limits = {});

  // Consumes a prefix of `input` and reports the first event in it, or
  // need_more once all of it is consumed. Lines end with CRLF or a bare LF.
  parse_result feed(std::string_view input);

  // The next line is IDLE's DONE (RFC 2177): reported as idle_done, or as an
  // expected_done error for anything else. One-shot; call after the IDLE
  // command was reported and before feeding the rest of the input.
  void expect_done();
  // The next line is a SASL response (AUTHENTICATE continuation). One-shot:
  // call again after each further challenge.
  void expect_sasl_response();
  // Refuses the synchronizing literal just announced: the client will not
  // send it (it got a tagged response instead of "+"), so the command is
  // dropped and the parser waits for a new one. Precondition: the last event
  // was literal_announced with synchronizing set; aborts otherwise.
  void reject_literal();

  // The command being read (complete up to the last announced literal).
  const command& pending_command() const { return command_; }
  const parser_limits& limits() const { return limits_; }

 private:
  enum class state { line, literal, discard_line, discard_literal };
  enum class mode { command, idle_done, sasl };
  // Where the tokenizer stands between two tokens of the current list.
  enum class position { start, header, after_open, expect_token, after_token };

  parse_result on_line(std::size_t consumed, std::string_view line);
  parse_result on_command_line(std::size_t consumed, std::string_view line);
  bool parse_header(std::string_view line, std::size_t& i, parse_error& error);
  bool parse_arguments(std::string_view line, std::size_t& i, parse_error& error,
                       literal_announced& literal, bool& has_literal);
  bool read_quoted(std::string_view line, std::size_t& i, std::string& out, parse_error& error);
  bool read_atom(std::string_view line, std::size_t& i, token& out, parse_error& error);
  bool add_token(token t, parse_error& error);
  parse_result fail(std::size_t consumed, parse_error error, std::string_view rest_of_line);
  parse_error make_error(parse_error_code code, std::string message) const;
  void reset_command();

  parser_limits limits_;
  state state_ = state::line;
  mode mode_ = mode::command;
  position position_ = position::start;

  std::string line_;             // the line being read, up to max_line + 1 octets
  std::string tail_;             // last octets of a line being discarded (literal announcement?)
  std::uint64_t remaining_ = 0;  // literal octets still to read or discard

  command command_;
  std::vector<std::vector<token>*> open_lists_;  // innermost last; never empty mid-command
  std::string* literal_target_ = nullptr;
  bool literal_is_literal8_ = false;
  bool literal_sync_pending_ = false;  // last event was a synchronizing literal_announced
  std::size_t tokens_ = 0;
  std::size_t command_bytes_ = 0;
  std::uint64_t append_bytes_ = 0;
};

}  // namespace packmail::protocols::imap
