// The LMTP parser gives the same events however the input is cut: command
// lines, the switch into message data after DATA, dot-unstuffing, the
// "\r\n.\r\n" terminator split anywhere, and bare LF line ends.
#include "parse_grind.h"

using namespace packmail::protocols::lmtp;
using namespace packmail::protocols::lmtp::testing;
using namespace std::string_literals;

TEST_CASE("command lines: verb upper-cased, arguments kept, blanks trimmed", "[lmtp][parser]") {
  CHECK(grind("lhlo mta.example\r\nMail FROM:<a@b> SIZE=10  \r\nRCPT  TO:<c@d>\r\nQUIT\r\n") ==
        std::vector<std::string>{"CMD LHLO [mta.example]", "CMD MAIL [FROM:<a@b> SIZE=10]",
                                 "CMD RCPT [TO:<c@d>]", "CMD QUIT []"});
}

TEST_CASE("a bare LF ends a command line", "[lmtp][parser]") {
  CHECK(grind("NOOP\nRSET\r\n") == std::vector<std::string>{"CMD NOOP []", "CMD RSET []"});
}

TEST_CASE("empty lines, a leading space, NUL and bare CR in a command are syntax errors",
          "[lmtp][parser]") {
  CHECK(grind("\r\n   \r\nNO\0OP\r\nNO\rOP\r\n NOOP\r\nNOOP\r\n"s) ==
        std::vector<std::string>{"ERROR 1 Empty command", "ERROR 1 Empty command",
                                 "ERROR 1 NUL octet in command", "ERROR 1 Bare CR in command",
                                 "ERROR 1 Syntax error", "CMD NOOP []"});
}

TEST_CASE("message data: dot-unstuffing and the terminator at every split", "[lmtp][parser]") {
  const std::string input =
      "DATA\r\n"
      "Subject: dots\r\n"
      "\r\n"
      "..leading dot\r\n"
      ".x\r\n"
      "..\r\n"
      "a.b\r\n"
      ". \r\n"
      ".\r\n"
      "NOOP\r\n";
  CHECK(grind(input) ==
        std::vector<std::string>{"CMD DATA []",
                                 "MESSAGE 45 Subject: dots\\x0d\\x0a\\x0d\\x0a.leading "
                                 "dot\\x0d\\x0ax\\x0d\\x0a.\\x0d\\x0aa.b\\x0d\\x0a \\x0d\\x0a",
                                 "CMD NOOP []"});
}

TEST_CASE("an empty message is just the terminator", "[lmtp][parser]") {
  CHECK(grind("DATA\r\n.\r\nQUIT\r\n") ==
        std::vector<std::string>{"CMD DATA []", "MESSAGE 0 ", "CMD QUIT []"});
}

TEST_CASE("bare LF in message data is stored as CRLF, also around the terminator",
          "[lmtp][parser]") {
  CHECK(grind("DATA\nA: b\n\nbody\r\nmore\n.\nNOOP\n") ==
        std::vector<std::string>{"CMD DATA []",
                                 "MESSAGE 20 A: b\\x0d\\x0a\\x0d\\x0abody\\x0d\\x0amore\\x0d\\x0a",
                                 "CMD NOOP []"});
  CHECK(grind("DATA\r\nx\n..\n.\r\n") ==
        std::vector<std::string>{"CMD DATA []", "MESSAGE 6 x\\x0d\\x0a.\\x0d\\x0a"});
}

TEST_CASE("a bare CR in message data is kept; only CRLF or LF end a line", "[lmtp][parser]") {
  CHECK(
      grind("DATA\r\na\rb\r\r\n.\rx\r\n.\r\n") ==
      std::vector<std::string>{"CMD DATA []", "MESSAGE 10 a\\x0db\\x0d\\x0d\\x0a\\x0dx\\x0d\\x0a"});
}

TEST_CASE("'.' inside a line or a line '..' is not the end", "[lmtp][parser]") {
  CHECK(grind("DATA\r\nend.\r\n\r\n.\r\n") ==
        std::vector<std::string>{"CMD DATA []", "MESSAGE 8 end.\\x0d\\x0a\\x0d\\x0a"});
}

TEST_CASE("message lines have no line length limit", "[lmtp][parser]") {
  parser_limits limits;
  limits.max_line = 16;
  const std::string long_line(1000, 'x');
  const auto events = parse_whole("DATA\r\n" + long_line + "\r\n.\r\n", limits);
  REQUIRE(events.size() == 2);
  CHECK(events[1] == "MESSAGE 1002 " + long_line + "\\x0d\\x0a");
}

TEST_CASE("commands pipelined after the data are read as commands", "[lmtp][parser]") {
  CHECK(grind("MAIL FROM:<>\r\nRCPT TO:<a>\r\nDATA\r\nhi\r\n.\r\nMAIL FROM:<>\r\n") ==
        std::vector<std::string>{"CMD MAIL [FROM:<>]", "CMD RCPT [TO:<a>]", "CMD DATA []",
                                 "MESSAGE 4 hi\\x0d\\x0a", "CMD MAIL [FROM:<>]"});
}
