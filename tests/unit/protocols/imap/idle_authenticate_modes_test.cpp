// The session switches the parser into IDLE's DONE line (RFC 2177) or
// AUTHENTICATE's SASL response lines (RFC 3501 6.2.2, SASL-IR RFC 4959).
#include <catch2/catch.hpp>

#include "parse_grind.h"

using namespace packmail::protocols::imap;
using packmail::protocols::imap::testing::grind;
using Events = std::vector<std::string>;

TEST_CASE("IDLE then DONE, then the next command") {
  CHECK(grind("a IDLE\r\nDONE\r\nb NOOP\r\n") == Events{"CMD a IDLE", "DONE", "CMD b NOOP"});
  CHECK(grind("a IDLE\ndone\n") == Events{"CMD a IDLE", "DONE"});
}

TEST_CASE("IDLE then something else than DONE") {
  CHECK(grind("a IDLE\r\nb NOOP\r\nc NOOP\r\n") ==
        Events{"CMD a IDLE", "ERROR 7 tag= Expected DONE", "CMD c NOOP"});
}

TEST_CASE("AUTHENTICATE continuation lines") {
  CHECK(grind("a AUTHENTICATE PLAIN\r\nAGZyZWQAc2VjcmV0\r\nb NOOP\r\n") ==
        Events{"CMD a AUTHENTICATE A:PLAIN", "SASL AGZyZWQAc2VjcmV0", "CMD b NOOP"});
  // Two round trips (the driver expects two for CRAM-MD5); "*" cancels (RFC 3501 6.2.2).
  CHECK(grind("a AUTHENTICATE CRAM-MD5\r\ndGVzdA==\r\n*\r\n") ==
        Events{"CMD a AUTHENTICATE A:CRAM-MD5", "SASL dGVzdA==", "SASL cancel *"});
  // An empty response is an empty line, not an error, in this mode.
  CHECK(grind("a AUTHENTICATE X\r\n\r\n") == Events{"CMD a AUTHENTICATE A:X", "SASL "});
}

TEST_CASE("SASL-IR: the initial response is an argument") {
  CHECK(grind("a AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0\r\n") ==
        Events{"CMD a AUTHENTICATE A:PLAIN A:AGZyZWQAc2VjcmV0"});
  CHECK(grind("a AUTHENTICATE PLAIN =\r\n") == Events{"CMD a AUTHENTICATE A:PLAIN A:="});
}

TEST_CASE("an over-size SASL line ends the mode") {
  parser_limits limits;
  limits.max_line = 20;
  CHECK(grind("a AUTHENTICATE X\r\n" + std::string(30, 'A') + "\r\nb NOOP\r\n", limits) ==
        Events{"CMD a AUTHENTICATE A:X", "ERROR 2 tag= Line too long", "CMD b NOOP"});
}

TEST_CASE("expect_done() right after IDLE takes effect on the next line") {
  command_parser parser;
  auto r = parser.feed("a IDLE\r\n");
  REQUIRE(std::holds_alternative<command>(r.output));
  parser.expect_done();
  r = parser.feed("DONE\r\n");
  CHECK(std::holds_alternative<idle_done>(r.output));
  CHECK(r.consumed == 6);
}
