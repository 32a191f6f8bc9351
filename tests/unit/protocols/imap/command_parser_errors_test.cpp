// Bad input is answered with an error value carrying the tag when it was
// read; the parser then skips the rest of the command and goes on with the
// next one. Every case is also checked at every split point.
#include <catch2/catch.hpp>

#include "parse_grind.h"

using namespace packmail::protocols::imap;
using packmail::protocols::imap::testing::grind;
using Events = std::vector<std::string>;
using namespace std::string_literals;

namespace {
std::string err(parse_error_code code, std::string tag, std::string message, bool close = false) {
  return "ERROR " + std::to_string(static_cast<int>(code)) + " tag=" + tag +
         (close ? " close " : " ") + message;
}
constexpr auto k_syntax = parse_error_code::syntax;
}  // namespace

TEST_CASE("empty line") {
  CHECK(grind("\r\na NOOP\r\n") ==
        Events{err(parse_error_code::empty_line, "", "Empty command line"), "CMD a NOOP"});
  CHECK(grind("\n") == Events{err(parse_error_code::empty_line, "", "Empty command line")});
}

TEST_CASE("missing tag, invalid tag, missing command") {
  CHECK(grind(" NOOP\r\n") == Events{err(k_syntax, "", "Missing tag")});
  CHECK(grind("a+b NOOP\r\n") == Events{err(k_syntax, "", "Invalid tag")});
  CHECK(grind("* NOOP\r\n") == Events{err(k_syntax, "", "Invalid tag")});
  CHECK(grind("abc\r\n") == Events{err(k_syntax, "abc", "Missing or invalid command name")});
  CHECK(grind("abc \r\n") == Events{err(k_syntax, "abc", "Missing or invalid command name")});
  CHECK(grind("abc UID\r\n") ==
        Events{err(k_syntax, "abc", "Missing or invalid command after UID")});
}

TEST_CASE("unterminated quoted string and bad escapes") {
  CHECK(grind("a LOGIN \"fred\r\nb NOOP\r\n") ==
        Events{err(k_syntax, "a", "Unterminated quoted string"), "CMD b NOOP"});
  CHECK(grind("a LOGIN \"fr\\ed\"\r\n") ==
        Events{err(k_syntax, "a", "Invalid escape in quoted string")});
  CHECK(grind("a LOGIN \"fred\\\r\n") == Events{err(k_syntax, "a", "Unterminated quoted string")});
}

TEST_CASE("8-bit octets in quoted strings and atoms are rejected") {
  CHECK(grind("a SELECT \"caf\xc3\xa9\"\r\n") ==
        Events{err(k_syntax, "a", "8-bit octet in quoted string (send a literal instead)")});
  CHECK(grind("a SELECT caf\xc3\xa9\r\n") ==
        Events{err(k_syntax, "a", "8-bit octet in command (send a literal instead)")});
}

TEST_CASE("NUL octets") {
  CHECK(grind("a SELECT IN\0BOX\r\nb NOOP\r\n"s) ==
        Events{err(k_syntax, "a", "NUL octet in command"), "CMD b NOOP"});
  CHECK(grind("a LOGIN \"x\0\"\r\n"s) ==
        Events{err(k_syntax, "a", "Control character in quoted string")});
  // RFC 3501 9: literal data is CHAR8, %x01-ff; the rest of the command is skipped.
  CHECK(grind("a LOGIN {3}\r\nx\0y pass\r\nb NOOP\r\n"s) ==
        Events{"LITERAL 3 sync",
               err(k_syntax, "a", "NUL octet in literal (use literal8 ~{n} for binary data)"),
               "CMD b NOOP"});
}

TEST_CASE("garbage bytes") {
  CHECK(grind("\x16\x03\x01\x02\x00\x01\r\nb NOOP\r\n"s) ==
        Events{err(k_syntax, "", "Invalid tag"), "CMD b NOOP"});
  CHECK(grind("a X (a))\r\n") ==
        Events{err(k_syntax, "a", "Expected space or end of list after argument")});
  CHECK(grind("a X )\r\n") == Events{err(k_syntax, "a", "Unexpected ')'")});
  CHECK(grind("a X  b\r\n") == Events{err(k_syntax, "a", "Unexpected space")});
  CHECK(grind("a X b \r\n") == Events{err(k_syntax, "a", "Missing argument after space")});
  CHECK(grind("a X (b\r\n") == Events{err(k_syntax, "a", "Unterminated list")});
  CHECK(grind("a X (\r\n") == Events{err(k_syntax, "a", "Unterminated list")});
  CHECK(grind("a X b(c)\r\n") == Events{err(k_syntax, "a", "Invalid character in atom")});
  CHECK(grind("a X \"b\"c\r\n") ==
        Events{err(k_syntax, "a", "Expected space or end of list after argument")});
  CHECK(grind("a X a\rb\r\n") == Events{err(k_syntax, "a", "Invalid character in atom")});
  CHECK(grind("a FETCH 1 BODY[HEADER\r\n") == Events{err(k_syntax, "a", "Missing ']'")});
}

TEST_CASE("bad literal syntax") {
  CHECK(grind("a LOGIN {x}\r\nb NOOP\r\n") ==
        Events{err(k_syntax, "a", "Invalid literal announcement"), "CMD b NOOP"});
  CHECK(grind("a LOGIN {}\r\n") == Events{err(k_syntax, "a", "Invalid literal announcement")});
  CHECK(grind("a LOGIN {3\r\n") == Events{err(k_syntax, "a", "Invalid literal announcement")});
  CHECK(grind("a LOGIN {3} x\r\n") ==
        Events{err(k_syntax, "a", "Literal announcement must end the line")});
  CHECK(grind("a LOGIN {99999999999999999999}\r\n") ==
        Events{err(k_syntax, "a", "Invalid literal size")});
  CHECK(grind("a LOGIN x{3}\r\n") == Events{err(k_syntax, "a", "Invalid character in atom")});
}

TEST_CASE("an error in a line that announces a non-synchronizing literal skips the literal") {
  // The client sends the literal anyway (RFC 7888 4): its data must not be
  // taken for commands.
  CHECK(grind("a X ) {9+}\r\nb NOOP\r\n tail\r\nc NOOP\r\n") ==
        Events{err(k_syntax, "a", "Unexpected ')'"), "CMD c NOOP"});
  // A synchronizing one is never sent: the client got our BAD instead of "+".
  CHECK(grind("a X ) {9}\r\nc NOOP\r\n") ==
        Events{err(k_syntax, "a", "Unexpected ')'"), "CMD c NOOP"});
}

TEST_CASE("too deep nesting") {
  parser_limits limits;
  limits.max_depth = 3;
  CHECK(grind("a X (((b)))\r\n", limits) == Events{"CMD a X (((A:b)))"});
  CHECK(grind("a X ((((b))))\r\nc NOOP\r\n", limits) ==
        Events{err(parse_error_code::too_deep, "a", "Lists nested too deeply"), "CMD c NOOP"});
  // Default 16.
  CHECK(grind("a X " + std::string(17, '(') + std::string(17, ')') + "\r\n") ==
        Events{err(parse_error_code::too_deep, "a", "Lists nested too deeply")});
}

TEST_CASE("too many tokens") {
  parser_limits limits;
  limits.max_tokens = 4;
  CHECK(grind("a X 1 2 (3)\r\n", limits) == Events{"CMD a X N:1 N:2 (N:3)"});
  CHECK(grind("a X 1 2 (3 4)\r\nb NOOP\r\n", limits) ==
        Events{err(parse_error_code::too_many_tokens, "a", "Too many arguments"), "CMD b NOOP"});
}

TEST_CASE("over-size line is reported with its tag and skipped") {
  parser_limits limits;
  limits.max_line = 16;
  CHECK(grind("a X 123456789012\r\n", limits) == Events{"CMD a X N:123456789012"});
  CHECK(grind("a X 1234567890123\r\nb NOOP\r\n", limits) ==
        Events{err(parse_error_code::line_too_long, "a", "Line too long"), "CMD b NOOP"});
  CHECK(grind("a X 12345678901234567890123456789\nb NOOP\n", limits) ==
        Events{err(parse_error_code::line_too_long, "a", "Line too long"), "CMD b NOOP"});
  // A non-synchronizing literal announced at the end of the skipped line is skipped too.
  CHECK(grind("a X 123456789012345 {5+}\r\nb NOP\r\nc NOOP\r\n", limits) ==
        Events{err(parse_error_code::line_too_long, "a", "Line too long"), "CMD c NOOP"});
  // The same after a literal: the continuation line is too long.
  CHECK(grind("a X {1}\r\nx 1234567890123456789\r\nb NOOP\r\n", limits) ==
        Events{"LITERAL 1 sync", err(parse_error_code::line_too_long, "a", "Line too long"),
               "CMD b NOOP"});
}

TEST_CASE("an over-size line never buffers more than the limit") {
  parser_limits limits;
  limits.max_line = 1024;
  command_parser parser(limits);
  const std::string chunk(4096, 'x');
  auto r = parser.feed("tag1 " + chunk);
  REQUIRE(std::holds_alternative<parse_error>(r.output));
  CHECK(std::get<parse_error>(r.output).tag == "tag1");
  // Megabytes more without a line end are consumed and dropped.
  for (int i = 0; i < 1000; ++i) {
    r = parser.feed(chunk);
    REQUIRE(std::holds_alternative<need_more>(r.output));
    REQUIRE(r.consumed == chunk.size());
  }
  r = parser.feed("\r\nb NOOP\r\n");
  REQUIRE(std::holds_alternative<command>(r.output));
  CHECK(std::get<command>(r.output).tag == "b");
}

TEST_CASE("an over-size command is reported") {
  parser_limits limits;
  limits.max_command = 30;  // 10 + 10 + 7 fit, the second literal does not
  CHECK(grind("a X {10}\r\n0123456789 {10}\r\n", limits) ==
        Events{"LITERAL 10 sync",
               err(parse_error_code::command_too_large, "a", "Command too large")});
}

TEST_CASE("over-size line: a tag ending past the limit is not reported, however the input is cut") {
  // Regression (fuzz): the tag used to depend on how much input had arrived.
  parser_limits limits;
  limits.max_line = 16;
  CHECK(grind(std::string(20, 't') + " NOOP\r\nb NOOP\r\n", limits) ==
        Events{err(parse_error_code::line_too_long, "", "Line too long"), "CMD b NOOP"});
  CHECK(grind(std::string(15, 't') + " NOOP 0123456789\r\n", limits) ==
        Events{err(parse_error_code::line_too_long, std::string(15, 't'), "Line too long")});
}
