// Literal size limits: APPEND message data against max_append_literal, any
// other literal against max_literal, LITERAL- (RFC 7888 5), and what happens
// to the connection when a limit is hit.
#include <catch2/catch.hpp>

#include "parse_grind.h"

using namespace packmail::protocols::imap;
using packmail::protocols::imap::testing::grind;
using Events = std::vector<std::string>;

namespace {
std::string too_large(std::string tag, std::string message, bool close = false) {
  return "ERROR " + std::to_string(static_cast<int>(parse_error_code::literal_too_large)) +
         " tag=" + tag + (close ? " close " : " ") + message;
}
parser_limits small_limits() {
  parser_limits limits;
  limits.max_literal = 8;
  limits.max_append_literal = 32;
  return limits;
}
}  // namespace

TEST_CASE("defaults") {
  const parser_limits limits;
  CHECK(limits.max_line == 64 * 1024);
  CHECK(limits.max_literal == 64 * 1024);
  CHECK(limits.max_append_literal == 64 * 1024 * 1024);
  CHECK(limits.max_depth == 16);
  CHECK(limits.non_sync == non_sync_literals::plus);
}

TEST_CASE("literals at the limits are accepted") {
  CHECK(grind("a LOGIN {8}\r\n12345678 x\r\n", small_limits()) ==
        Events{"LITERAL 8 sync", "CMD a LOGIN L:\"12345678\" A:x"});
  CHECK(grind("a APPEND box {32+}\r\n01234567890123456789012345678901\r\n", small_limits()) ==
        Events{"LITERAL 32 nonsync append",
               "CMD a APPEND A:box L:\"01234567890123456789012345678901\""});
}

TEST_CASE("an over-size synchronizing literal is refused, the connection stays") {
  // The client waits for "+" and gets the tagged BAD: it sends no data.
  CHECK(grind("a LOGIN {9}\r\nb NOOP\r\n", small_limits()) ==
        Events{too_large("a", "Literal too large"), "CMD b NOOP"});
  CHECK(grind("a APPEND box {33}\r\nb NOOP\r\n", small_limits()) ==
        Events{too_large("a", "Message too large"), "CMD b NOOP"});
}

TEST_CASE("an over-size non-synchronizing literal is read and discarded") {
  // RFC 7888 4, choice 1: bounded by max_append_literal, nothing is buffered.
  CHECK(grind("a LOGIN {9+}\r\n123456789 x\r\nb NOOP\r\n", small_limits()) ==
        Events{too_large("a", "Literal too large"), "CMD b NOOP"});
}

TEST_CASE("a non-synchronizing literal too big to discard closes the connection") {
  CHECK(grind("a APPEND box {33+}\r\n", small_limits()) ==
        Events{too_large("a", "Message too large", true)});
  CHECK(grind("a APPEND box {99999999999999999999999+}\r\n", small_limits()) ==
        Events{"ERROR 0 tag=a close Invalid literal size"});
}

TEST_CASE("MULTIAPPEND messages count together") {
  CHECK(grind("a APPEND box {16+}\r\n0123456789abcdef {16+}\r\n0123456789abcdef\r\n",
              small_limits()) ==
        Events{"LITERAL 16 nonsync append", "LITERAL 16 nonsync append",
               "CMD a APPEND A:box L:\"0123456789abcdef\" L:\"0123456789abcdef\""});
  CHECK(grind("a APPEND box {16+}\r\n0123456789abcdef {17}\r\nb NOOP\r\n", small_limits()) ==
        Events{"LITERAL 16 nonsync append", too_large("a", "Message too large"), "CMD b NOOP"});
}

TEST_CASE("LITERAL- allows non-synchronizing literals up to 4096 octets") {
  parser_limits limits;
  limits.non_sync = non_sync_literals::minus;
  const std::string ok(4096, 'm');
  CHECK(grind("a APPEND box {4096+}\r\n" + ok + "\r\n", limits).front() ==
        "LITERAL 4096 nonsync append");
  // Over 4096: BAD [TOOBIG], the data is discarded, the connection stays.
  const std::string big(4097, 'm');
  CHECK(grind("a APPEND box {4097+}\r\n" + big + "\r\nb NOOP\r\n", limits) ==
        Events{too_large("a", "Non-synchronizing literal over 4096 octets (LITERAL-)"),
               "CMD b NOOP"});
  // A synchronizing literal of the same size is fine.
  CHECK(grind("a APPEND box {4097}\r\n" + big + "\r\n", limits).size() == 2);
}

TEST_CASE("a huge literal announcement allocates nothing up front") {
  command_parser parser;  // defaults: 64 MiB APPEND
  auto r = parser.feed("a APPEND box {67108864}\r\n");
  REQUIRE(std::holds_alternative<literal_announced>(r.output));
  CHECK(parser.pending_command().args.back().text.capacity() <= 64 * 1024 + 64);
  const std::string chunk(1 << 20, 'x');
  for (int i = 0; i < 64; ++i) {
    r = parser.feed(chunk);
    REQUIRE(std::holds_alternative<need_more>(r.output));
  }
  r = parser.feed("\r\n");
  REQUIRE(std::holds_alternative<command>(r.output));
  CHECK(std::get<command>(r.output).args.back().text.size() == 64u << 20);
}

TEST_CASE("an over-size line ending in a non-synchronizing literal too big to skip closes") {
  parser_limits limits = small_limits();
  limits.max_line = 16;
  CHECK(grind("a X 1234567890123 {33+}\r\n", limits) ==
        Events{"ERROR 2 tag=a Line too long",
               too_large("", "Unreadable literal in a rejected command", true)});
  // Small enough to skip: the connection stays.
  CHECK(grind("a X 1234567890123 {3+}\r\nabc\r\nb NOOP\r\n", limits) ==
        Events{"ERROR 2 tag=a Line too long", "CMD b NOOP"});
}
