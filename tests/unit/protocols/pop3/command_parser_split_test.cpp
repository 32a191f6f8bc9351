// The POP3 command parser gives the same events however the input is cut.
#include "parse_grind.h"

using namespace packmail::protocols::pop3::testing;
using strings = std::vector<std::string>;

TEST_CASE("commands with CRLF and bare LF, names upper-cased", "[pop3][parser]") {
  CHECK(grind("user Alice\r\npass se cret \r\nSTAT\nretr 1\r\n") ==
        strings{"CMD USER [Alice] text=Alice", "CMD PASS [se] [cret] text=se cret ",
                "CMD STAT text=", "CMD RETR [1] text=1"});
}

TEST_CASE("runs of spaces split arguments; text keeps them", "[pop3][parser]") {
  CHECK(grind("TOP  1   10\r\n  NOOP\r\nPASS  two  spaces\r\n") ==
        strings{"CMD TOP [1] [10] text= 1   10",
                "CMD NOOP text=", "CMD PASS [two] [spaces] text= two  spaces"});
}

TEST_CASE("empty and blank lines are errors, the next line still parses", "[pop3][parser]") {
  CHECK(grind("\r\n   \r\nQUIT\r\n") == strings{"ERROR empty_line Empty command line",
                                                "ERROR empty_line Empty command line",
                                                "CMD QUIT text="});
}

TEST_CASE("a SASL response line after AUTH <mechanism>", "[pop3][parser]") {
  CHECK(grind("AUTH PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\nAUTH PLAIN\r\n*\r\nSTAT\r\n") ==
        strings{"CMD AUTH [PLAIN] text=PLAIN", "SASL AGFsaWNlAHNlY3JldA==",
                "CMD AUTH [PLAIN] text=PLAIN", "SASL cancel *", "CMD STAT text="});
}

TEST_CASE("AUTH with an initial response takes no SASL line", "[pop3][parser]") {
  CHECK(grind("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n*\r\n") ==
        strings{"CMD AUTH [PLAIN] [AGFsaWNlAHNlY3JldA==] text=PLAIN AGFsaWNlAHNlY3JldA==",
                "CMD * text="});
}

TEST_CASE("an empty SASL line is a response, not an error", "[pop3][parser]") {
  CHECK(grind("AUTH PLAIN\r\n\r\n") == strings{"CMD AUTH [PLAIN] text=PLAIN", "SASL "});
}

TEST_CASE("octets outside ASCII and NUL pass through", "[pop3][parser]") {
  CHECK(grind(std::string_view("PASS p\0\xff\r\n", 10)) ==
        strings{"CMD PASS [p\\x00\\xff] text=p\\x00\\xff"});
}

TEST_CASE("input without a final line end waits", "[pop3][parser]") {
  CHECK(grind("STAT\r\nLIST 1") == strings{"CMD STAT text="});
  CHECK(grind("STAT\r") == strings{});
}
