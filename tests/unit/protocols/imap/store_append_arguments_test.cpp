#include <catch2/catch.hpp>

#include "packmail/protocols/imap/append_arguments.h"
#include "packmail/protocols/imap/store_arguments.h"
#include "typed_support.h"

using namespace packmail::protocols::imap;
using packmail::protocols::imap::testing::parse_command;
using op = store_request::operation;
using Flags = std::vector<std::string>;

namespace {
syntax_result<store_request> store(std::string_view line) {
  return parse_store(parse_command(line).args);
}
syntax_result<append_request> append(std::string_view line) {
  return parse_append(parse_command(line).args);
}
}  // namespace

TEST_CASE("STORE forms") {
  auto r = store("a STORE 2:4 +FLAGS (\\Deleted)\r\n");
  REQUIRE(r.ok());
  CHECK(r.value().op == op::add);
  CHECK_FALSE(r.value().silent);
  CHECK(r.value().flags == Flags{"\\Deleted"});
  r = store("a UID STORE 1 -flags.silent (\\Seen $Junk)\r\n");
  REQUIRE(r.ok());
  CHECK(r.value().op == op::remove);
  CHECK(r.value().silent);
  CHECK(r.value().flags == Flags{"\\Seen", "$Junk"});
  r = store("a STORE 1 FLAGS ()\r\n");
  REQUIRE(r.ok());
  CHECK(r.value().op == op::replace);
  CHECK(r.value().flags.empty());
  // Flags without parentheses (RFC 3501 9: flag *(SP flag)).
  r = store("a STORE * +FLAGS \\Flagged foo\r\n");
  REQUIRE(r.ok());
  CHECK(r.value().flags == Flags{"\\Flagged", "foo"});
}

TEST_CASE("STORE with UNCHANGEDSINCE (RFC 7162)") {
  auto r = store("a STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)\r\n");
  REQUIRE(r.ok());
  CHECK(r.value().unchanged_since == 320162338u);
  CHECK(r.value().silent);
  CHECK(r.value().set.elements().size() == 3);
}

TEST_CASE("invalid STORE") {
  for (std::string_view bad : {
           "a STORE 1 +FLAGS\r\n",
           "a STORE 1 (\\Seen)\r\n",
           "a STORE 1 *FLAGS (\\Seen)\r\n",
           "a STORE 1 FLAGS.LOUD (\\Seen)\r\n",
           "a STORE x FLAGS (\\Seen)\r\n",
           "a STORE 1 FLAGS (\"quoted\")\r\n",
           "a STORE 1 FLAGS (\\)\r\n",
           "a STORE 1 FLAGS ((a))\r\n",
           "a STORE 1 FLAGS (a) b\r\n",
           "a STORE 1 (UNCHANGEDSINCE) FLAGS (a)\r\n",
           "a STORE 1 (FOO 1) FLAGS (a)\r\n",
           "a STORE 1 FLAGS x[y]\r\n",
       }) {
    INFO(bad);
    CHECK_FALSE(store(bad).ok());
  }
}

TEST_CASE("APPEND with flags and date") {
  auto r = append(
      "a APPEND saved-messages (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {13+}\r\nDate: "
      "x\r\n\r\nhi\r\n");
  REQUIRE(r.ok());
  CHECK(r.value().mailbox == "saved-messages");
  REQUIRE(r.value().messages.size() == 1);
  const auto& m = r.value().messages[0];
  CHECK(m.flags == Flags{"\\Seen"});
  REQUIRE(m.internal_date.has_value());
  CHECK(m.internal_date->date == date{1996, 7, 17});
  CHECK(m.internal_date->zone_minutes == -420);
  CHECK(m.internal_date->to_unix_seconds() == 837596665);
  CHECK(m.data == "Date: x\r\n\r\nhi");
  CHECK_FALSE(m.binary);
}

TEST_CASE("APPEND plain, binary and MULTIAPPEND") {
  auto r = append("a APPEND INBOX {1+}\r\nx\r\n");
  REQUIRE(r.ok());
  CHECK(r.value().messages[0].flags.empty());
  CHECK_FALSE(r.value().messages[0].internal_date);
  r = append("a APPEND \"My Box\" \" 1-Jan-2020 00:00:00 +0000\" ~{2+}\r\nab\r\n");
  REQUIRE(r.ok());
  CHECK(r.value().mailbox == "My Box");
  CHECK(r.value().messages[0].binary);
  CHECK(r.value().messages[0].internal_date->to_unix_seconds() == 1577836800);
  r = append(
      "a APPEND box (\\Draft) {1+}\r\nx () {1+}\r\ny \"02-Feb-2021 10:00:00 +0100\" {1+}\r\nz\r\n");
  REQUIRE(r.ok());
  REQUIRE(r.value().messages.size() == 3);
  CHECK(r.value().messages[0].flags == Flags{"\\Draft"});
  CHECK(r.value().messages[1].data == "y");
  CHECK(r.value().messages[2].internal_date->hour == 10);
}

TEST_CASE("invalid APPEND") {
  for (std::string_view bad : {
           "a APPEND box\r\n",
           "a APPEND box (\\Seen)\r\n",
           "a APPEND box x\r\n",
           "a APPEND box \"17-Jul-1996\" {1+}\r\nx\r\n",
           "a APPEND box \"32-Jul-1996 02:44:25 -0700\" {1+}\r\nx\r\n",
           "a APPEND box \"17-Jul-1996 24:44:25 -0700\" {1+}\r\nx\r\n",
           "a APPEND box \"17-Jul-1996 02:44:25 0700\" {1+}\r\nx\r\n",
           "a APPEND box \"17-Jul-1996 02:44:25 -07000\" {1+}\r\nx\r\n",
           "a APPEND box {1+}\r\nx (\\Seen)\r\n",
           "a APPEND (a) {1+}\r\nx\r\n",
           "a APPEND box (\"x\") {1+}\r\nx\r\n",
       }) {
    INFO(bad);
    CHECK_FALSE(append(bad).ok());
  }
}
