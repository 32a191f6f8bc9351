// max_line: an over-long line is reported once and skipped through its LF
// without buffering; the lines around it are unaffected.
#include "parse_grind.h"

using namespace packmail::protocols::pop3;
using namespace packmail::protocols::pop3::testing;
using strings = std::vector<std::string>;

TEST_CASE("a line of max_line octets passes, one more does not", "[pop3][parser][limits]") {
  const std::string ok = "PASS " + std::string(11, 'x');  // 16 octets
  CHECK(grind(ok + "\r\n", 16) == strings{"CMD PASS [xxxxxxxxxxx] text=xxxxxxxxxxx"});
  CHECK(grind(ok + "x\r\nSTAT\r\n", 16) ==
        strings{"ERROR line_too_long Line too long", "CMD STAT text="});
  // The same with a bare LF: max_line + 1 octets before the LF.
  CHECK(grind(ok + "x\nSTAT\n", 16) ==
        strings{"ERROR line_too_long Line too long", "CMD STAT text="});
}

TEST_CASE("a very long line is reported once and skipped", "[pop3][parser][limits]") {
  const std::string input = "NOOP\r\n" + std::string(200, 'a') + "\r\nQUIT\r\n";
  CHECK(grind(input, 16) ==
        strings{"CMD NOOP text=", "ERROR line_too_long Line too long", "CMD QUIT text="});
}

TEST_CASE("the error comes as soon as the line is too long", "[pop3][parser][limits]") {
  command_parser parser(16);
  auto r = parser.feed(std::string(17, 'a'));
  CHECK(r.consumed == 17);
  CHECK(std::holds_alternative<need_more>(r.output));
  r = parser.feed(std::string(1, 'a'));
  REQUIRE(std::holds_alternative<parse_error>(r.output));
  CHECK(std::get<parse_error>(r.output).code == parse_error_code::line_too_long);
  // The rest of the line costs no memory, however long.
  for (int i = 0; i < 1000; ++i) {
    r = parser.feed(std::string(64 * 1024, 'b'));
    REQUIRE(std::holds_alternative<need_more>(r.output));
    REQUIRE(r.consumed == 64 * 1024);
  }
  r = parser.feed("\r\nSTAT\r\n");
  CHECK(render(r.output) == "CMD STAT text=");
}

TEST_CASE("an over-long SASL line ends the exchange", "[pop3][parser][limits]") {
  CHECK(grind("AUTH PLAIN\r\n" + std::string(40, 'A') + "\r\nAUTH\r\n", 16) ==
        strings{"CMD AUTH [PLAIN] text=PLAIN", "ERROR line_too_long Line too long",
                "CMD AUTH text="});
}

TEST_CASE("the default limit is 8 KiB", "[pop3][parser][limits]") {
  CHECK(k_default_max_line == 8192);
  command_parser parser;
  CHECK(parser.max_line() == 8192);
  const std::string line = "PASS " + std::string(8192 - 5, 'p') + "\r\n";
  CHECK(std::holds_alternative<command>(parser.feed(line).output));
}
