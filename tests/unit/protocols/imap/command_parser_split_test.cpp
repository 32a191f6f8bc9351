// Every command, cut at every byte offset and fed byte by byte, parses to the
// same syntax tree.
#include <catch2/catch.hpp>

#include "parse_grind.h"

using namespace packmail::protocols::imap;
using packmail::protocols::imap::testing::grind;
using Events = std::vector<std::string>;
using namespace std::string_literals;

TEST_CASE("simple commands, CRLF and bare LF") {
  CHECK(grind("a1 NOOP\r\n") == Events{"CMD a1 NOOP"});
  CHECK(grind("a1 noop\n") == Events{"CMD a1 NOOP"});
  CHECK(grind("A001 LOGIN fred \"pass word\"\r\n") ==
        Events{"CMD A001 LOGIN A:fred Q:\"pass word\""});
  CHECK(grind("x CAPABILITY\r\ny LOGOUT\r\n") == Events{"CMD x CAPABILITY", "CMD y LOGOUT"});
}

TEST_CASE("quoted strings unescape quoted-specials") {
  CHECK(grind("t LOGIN \"a\\\"b\" \"c\\\\d\"\r\n") ==
        Events{"CMD t LOGIN Q:\"a\"b\" Q:\"c\\x5cd\""});
  CHECK(grind("t SELECT \"\"\r\n") == Events{"CMD t SELECT Q:\"\""});
}

TEST_CASE("numbers, NIL and atoms are told apart") {
  CHECK(
      grind("t X 0 4294967296 18446744073709551615 18446744073709551616 nil Nil 1:* \\Seen\r\n") ==
      Events{"CMD t X N:0 N:4294967296 N:18446744073709551615 A:18446744073709551616 NIL NIL "
             "A:1:* A:\\x5cSeen"});
}

TEST_CASE("UID commands carry the sub-command") {
  CHECK(grind("a UID FETCH 1:* (FLAGS)\r\n") == Events{"CMD a UID FETCH A:1:* (A:FLAGS)"});
  CHECK(grind("a uid store 4,7 +FLAGS.SILENT (\\Deleted)\r\n") ==
        Events{"CMD a UID STORE A:4,7 A:+FLAGS.SILENT (A:\\x5cDeleted)"});
}

TEST_CASE("synchronizing literal, then the line continues") {
  CHECK(grind("a LOGIN {4}\r\nfred {3}\r\nabc\r\n") ==
        Events{"LITERAL 4 sync", "LITERAL 3 sync", "CMD a LOGIN L:\"fred\" L:\"abc\""});
}

TEST_CASE("LITERAL+ and literal8") {
  CHECK(grind("a APPEND INBOX {5+}\r\nHello\r\n") ==
        Events{"LITERAL 5 nonsync append", "CMD a APPEND A:INBOX L:\"Hello\""});
  CHECK(grind("a APPEND INBOX ~{3+}\r\n\0\1\2\r\n"s) ==
        Events{"LITERAL 3 nonsync literal8 append", "CMD a APPEND A:INBOX L8:\"\\x00\\x01\\x02\""});
}

TEST_CASE("empty literal and literals inside lists") {
  CHECK(grind("a X {0}\r\n\r\n") == Events{"LITERAL 0 sync", "CMD a X L:\"\""});
  CHECK(grind("a X ({2+}\r\nab {0+}\r\n (c))\r\n") ==
        Events{"LITERAL 2 nonsync", "LITERAL 0 nonsync", "CMD a X (L:\"ab\" L:\"\" (A:c))"});
  CHECK(grind("a X (a (b (c)) ())\r\n") == Events{"CMD a X (A:a (A:b (A:c)) ())"});
}

TEST_CASE("literal data may hold CR, LF and 8-bit octets") {
  CHECK(grind("a APPEND box {6}\r\n\r\n\xc3\xa9\r\n\r\n") ==
        Events{"LITERAL 6 sync append", "CMD a APPEND A:box L:\"\\x0d\\x0a\\xc3\\xa9\\x0d\\x0a\""});
}

TEST_CASE("FETCH sections are kept whole") {
  CHECK(grind("a FETCH 1 (BODY[HEADER.FIELDS (From \"To\")]<0.100> BODY.PEEK[] BINARY[1.2])\r\n") ==
        Events{"CMD a FETCH N:1 (S:BODY[HEADER.FIELDS (From \"To\")]<0.100> S:BODY.PEEK[] "
               "S:BINARY[1.2])"});
  CHECK(grind("a FETCH 2 BODY[]\r\n") == Events{"CMD a FETCH N:2 S:BODY[]"});
  CHECK(grind("a SELECT [Gmail]/Sent\r\n") == Events{"CMD a SELECT S:[Gmail]/Sent"});
}

TEST_CASE("SEARCH with OR, NOT, groups and a literal") {
  CHECK(grind("s SEARCH CHARSET UTF-8 OR (FROM bob SINCE 1-Feb-1994) NOT SUBJECT {3}\r\n\xc3\xa9x "
              "UID 1:5,$\r\n") ==
        Events{"LITERAL 3 sync",
               "CMD s SEARCH A:CHARSET A:UTF-8 A:OR (A:FROM A:bob A:SINCE A:1-Feb-1994) A:NOT "
               "A:SUBJECT L:\"\\xc3\\xa9x\" A:UID A:1:5,$"});
}

TEST_CASE("APPEND with flags, date and MULTIAPPEND") {
  CHECK(grind("a APPEND saved (\\Seen $Junk) \"17-Jul-1996 02:44:25 -0700\" {4+}\r\nabcd "
              "{2+}\r\nef\r\n") ==
        Events{"LITERAL 4 nonsync append", "LITERAL 2 nonsync append",
               "CMD a APPEND A:saved (A:\\x5cSeen A:$Junk) Q:\"17-Jul-1996 02:44:25 -0700\" "
               "L:\"abcd\" L:\"ef\""});
}

TEST_CASE("a mailbox name sent as a literal is not APPEND data") {
  CHECK(grind("a APPEND {5}\r\nINBOX {1}\r\nx\r\n") ==
        Events{"LITERAL 5 sync", "LITERAL 1 sync append", "CMD a APPEND L:\"INBOX\" L:\"x\""});
}

TEST_CASE("pending_command shows the command before a literal") {
  command_parser parser;
  auto r = parser.feed("a7 APPEND Drafts (\\Draft) {10}\r\n");
  REQUIRE(std::holds_alternative<literal_announced>(r.output));
  CHECK(parser.pending_command().tag == "a7");
  CHECK(parser.pending_command().name == "APPEND");
  REQUIRE(parser.pending_command().args.size() == 3);
  CHECK(parser.pending_command().args[0].text == "Drafts");
}

TEST_CASE("a refused synchronizing literal drops the command") {
  packmail::protocols::imap::testing::driver d;
  d.reject_next_sync_literal = true;
  d.feed("a APPEND nosuch {100}\r\nb NOOP\r\n");
  CHECK(d.events == Events{"LITERAL 100 sync append", "REJECTED", "CMD b NOOP"});
}

TEST_CASE("8-bit octets are accepted in quoted strings with UTF8=ACCEPT") {
  parser_limits limits;
  limits.utf8_quoted = true;
  CHECK(grind("a SELECT \"caf\xc3\xa9\"\r\n", limits) ==
        Events{"CMD a SELECT Q:\"caf\\xc3\\xa9\""});
}

TEST_CASE("astring and list-mailbox accessors") {
  command_parser parser;
  auto r = parser.feed("a LIST \"\" %/Arch*ive [Gmail]/Sent NIL 123 (x) {1+}\r\ny\r\n");
  r = parser.feed(std::string_view("a LIST \"\" %/Arch*ive [Gmail]/Sent NIL 123 (x) {1+}\r\ny\r\n")
                      .substr(r.consumed));
  REQUIRE(std::holds_alternative<command>(r.output));
  const auto& args = std::get<command>(r.output).args;
  CHECK(args[0].astring() == "");
  CHECK_FALSE(args[1].astring().has_value());
  CHECK(args[1].list_mailbox() == "%/Arch*ive");
  CHECK(args[2].astring() == "[Gmail]/Sent");
  CHECK(args[3].astring() == "NIL");
  CHECK(args[4].astring() == "123");
  CHECK_FALSE(args[5].astring().has_value());
  CHECK(args[6].astring() == "y");
}
