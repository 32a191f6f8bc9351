// The parser's bounds: an over-long command line is reported once and skipped
// without being buffered; an over-size message is read to its end, dropped,
// and reported with its size; expect_data() outside a command boundary is a
// bug.
#include "parse_grind.h"

using namespace packmail::protocols::lmtp;
using namespace packmail::protocols::lmtp::testing;

namespace {

parser_limits small() {
  parser_limits limits;
  limits.max_line = 10;
  limits.max_message_size = 8;
  return limits;
}

}  // namespace

TEST_CASE("a line of max_line octets passes, one more is too long", "[lmtp][parser][limits]") {
  CHECK(grind("NOOP 56789\r\nNOOP 567890\r\nNOOP\r\n", small()) ==
        std::vector<std::string>{"CMD NOOP [56789]", "ERROR 0 Line too long", "CMD NOOP []"});
  // With bare LF too, and a CR counted only as part of CRLF.
  CHECK(grind("NOOP 56789\nNOOP 56789\r\r\nNOOP\n", small()) ==
        std::vector<std::string>{"CMD NOOP [56789]", "ERROR 0 Line too long", "CMD NOOP []"});
}

TEST_CASE("a very long line is skipped without buffering, reported once",
          "[lmtp][parser][limits]") {
  const std::string input = "NOOP " + std::string(200, 'x') + "\r\nRSET\r\n";
  CHECK(grind(input, small()) == std::vector<std::string>{"ERROR 0 Line too long", "CMD RSET []"});
  // Fed in one call: the error comes as soon as the line is proven too long.
  command_parser p(small());
  auto r = p.feed(std::string(1000, 'y'));
  CHECK(std::holds_alternative<parse_error>(r.output));
  CHECK(r.consumed == 12);
  r = p.feed(std::string_view(std::string(1000, 'y')).substr(r.consumed));
  CHECK(std::holds_alternative<need_more>(r.output));
}

TEST_CASE("a message over max_message_size is read to its end and dropped",
          "[lmtp][parser][limits]") {
  CHECK(grind("DATA\r\n12345\r\n\r\n.\r\nNOOP\r\n", small()) ==
        std::vector<std::string>{"CMD DATA []", "TOO_LARGE 9", "CMD NOOP []"});
  CHECK(
      grind("DATA\r\n1234\r\n\r\n.\r\nNOOP\r\n", small()) ==
      std::vector<std::string>{"CMD DATA []", "MESSAGE 8 1234\\x0d\\x0a\\x0d\\x0a", "CMD NOOP []"});
}

TEST_CASE("a huge message is counted without being kept", "[lmtp][parser][limits]") {
  parser_limits limits;
  limits.max_message_size = 1024;
  command_parser p(limits);
  REQUIRE(std::holds_alternative<command>(p.feed("DATA\r\n").output));
  p.expect_data();
  CHECK(p.in_data());
  const std::string chunk = std::string(4095, 'z') + "\n";
  for (int i = 0; i < 1000; ++i) {
    auto r = p.feed(chunk);
    REQUIRE(std::holds_alternative<need_more>(r.output));
  }
  auto r = p.feed(".\r\n");
  auto* m = std::get_if<message_data>(&r.output);
  REQUIRE(m != nullptr);
  CHECK(m->too_large);
  CHECK(m->text.empty());
  CHECK(m->size == 1000u * 4097u);
  CHECK_FALSE(p.in_data());
}
