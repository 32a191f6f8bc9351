// The incremental, I/O-free LMTP reader (RFC 2033 over the SMTP command and
// DATA syntax of RFC 5321): command lines, and after DATA's 354 the message
// text up to the terminating "." line.
//
// The session feeds received bytes; each feed() consumes a prefix of them and
// reports one event. The caller feeds the unconsumed rest again (possibly
// after reacting to the event), so pipelined commands (RFC 2920) and the
// switch into message data happen exactly between two commands:
//
//   std::string_view in = bytes;
//   while (true) {
//     auto r = parser.feed(in);
//     in.remove_prefix(r.consumed);
//     if (std::holds_alternative<need_more>(r.output)) break;  // in is empty
//     ... handle r.output; after answering DATA with 354: parser.expect_data() ...
//   }
//
// Line ends: CRLF, or a bare LF (accepted as a line end everywhere). A CR not
// followed by LF is an ordinary octet.
//
// Message data (RFC 5321 4.5.2): a line holding only "." ends it; a leading
// "." of any other line is removed (dot-unstuffing). Every line end of the
// message is stored as CRLF, so a message sent with bare LFs is normalized.
//
// Memory: the parser holds at most one command line (max_line + CRLF) and one
// message of at most max_message_size octets. A longer line is reported and
// skipped; a larger message is read to its end without being kept.
//
// Thread-safety: none; one parser per connection, used from one thread at a
// time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace packmail::protocols::lmtp {

struct parser_limits {
  // Longest command line, CRLF excluded. RFC 5321 4.5.3.1.4 asks for at
  // least 512 octets with CRLF. Default: 4 KiB.
  std::size_t max_line = 4096;
  // Largest message kept: octets after dot-unstuffing, line ends counted as
  // CRLF. Default: 64 MiB.
  std::uint64_t max_message_size = 64 * 1024 * 1024;
};

// Every byte given has been consumed; feed more when it arrives.
struct need_more {};

// One command line. name is the verb in upper case ("MAIL"), never empty;
// arguments is the rest of the line after the space that ends the verb, with
// leading and trailing blanks removed ("FROM:<a@b> SIZE=10"). Neither holds
// CR, LF or NUL. The verb is not checked against the known commands.
struct command {
  std::string name;
  std::string arguments;
};

// After expect_data(): the message ended with its "." line.
struct message_data {
  // The message (dot-unstuffed, CRLF line ends), or empty when too_large.
  std::string text;
  // Its size in octets, also when too large.
  std::uint64_t size = 0;
  // Over max_message_size: the text was read and dropped.
  bool too_large = false;
};

enum class parse_error_code {
  line_too_long,  // 500 5.5.2 (RFC 5321 4.5.3.1.4 "500 Line too long")
  syntax,         // 500 5.5.2: an empty line, a leading space, a NUL or bare CR
};

// The line is dropped; the parser waits for the next command.
struct parse_error {
  parse_error_code code = parse_error_code::syntax;
  std::string message;  // "Line too long"
};

using parse_output = std::variant<need_more, command, message_data, parse_error>;

struct parse_result {
  std::size_t consumed = 0;  // octets of the input used; feed the rest again
  parse_output output;
};

class command_parser {
 public:
  explicit command_parser(parser_limits limits = {});

  // Consumes a prefix of `input` and reports the first event in it, or
  // need_more once all of it is consumed.
  parse_result feed(std::string_view input);

  // The bytes from here on are message data, up to the "." line, reported as
  // one message_data. Call after answering DATA with 354 and before feeding
  // the rest of the input. Precondition: at a command boundary (the last
  // event was a command); aborts otherwise.
  void expect_data();
  // Reading message data (expect_data() called, "." line not yet seen).
  bool in_data() const { return state_ == state::data; }

  const parser_limits& limits() const { return limits_; }

 private:
  enum class state { line, discard_line, data };
  // Where message data stands within its current line.
  enum class data_position {
    line_start,  // nothing of the line read yet
    dot,         // the line so far is "."
    dot_cr,      // the line so far is ".\r"
    middle,      // inside a line
    middle_cr,   // inside a line, after a CR (held back: it may start CRLF)
  };

  parse_result on_line(std::size_t consumed, std::string_view line);
  parse_result feed_data(std::string_view input);
  void add_data(std::string_view bytes);
  parse_result end_data(std::size_t consumed);

  parser_limits limits_;
  state state_ = state::line;
  std::string line_;  // the command line being read, at most max_line + 1 octets

  data_position position_ = data_position::line_start;
  std::string message_;
  std::uint64_t message_size_ = 0;
  bool too_large_ = false;
};

}  // namespace packmail::protocols::lmtp
