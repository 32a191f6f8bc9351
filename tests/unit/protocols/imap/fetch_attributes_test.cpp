#include <catch2/catch.hpp>

#include "packmail/protocols/imap/fetch_attributes.h"
#include "typed_support.h"

using namespace packmail::protocols::imap;
using packmail::protocols::imap::testing::parse_command;
using kind = fetch_item::kind;
using text_kind = section_spec::text_kind;

namespace {
fetch_request fetch(std::string_view line) {
  command c = parse_command(line);
  auto r = parse_fetch(c.args, c.uid);
  INFO(line);
  REQUIRE(r.ok());
  return std::move(r).value();
}
std::string fetch_error(std::string_view line) {
  command c = parse_command(line);
  auto r = parse_fetch(c.args, c.uid);
  INFO(line);
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}
std::vector<kind> kinds(const fetch_request& r) {
  std::vector<kind> out;
  for (const auto& i : r.items) out.push_back(i.what);
  return out;
}
}  // namespace

TEST_CASE("macros expand (RFC 3501 6.4.5)") {
  CHECK(kinds(fetch("a FETCH 1:* FAST\r\n")) ==
        std::vector<kind>{kind::flags, kind::internal_date, kind::rfc822_size});
  CHECK(kinds(fetch("a FETCH 1 all\r\n")) ==
        std::vector<kind>{kind::flags, kind::internal_date, kind::rfc822_size, kind::envelope});
  CHECK(kinds(fetch("a FETCH 1 FULL\r\n")) == std::vector<kind>{kind::flags, kind::internal_date,
                                                                kind::rfc822_size, kind::envelope,
                                                                kind::body});
  // Macros are not allowed inside a list.
  CHECK_FALSE(fetch_error("a FETCH 1 (FAST)\r\n").empty());
}

TEST_CASE("simple items") {
  const auto r = fetch(
      "a FETCH 2:4 (ENVELOPE FLAGS INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE RFC822.TEXT "
      "BODY BODYSTRUCTURE UID MODSEQ)\r\n");
  CHECK(kinds(r) == std::vector<kind>{kind::envelope, kind::flags, kind::internal_date,
                                      kind::rfc822, kind::rfc822_header, kind::rfc822_size,
                                      kind::rfc822_text, kind::body, kind::body_structure,
                                      kind::uid, kind::modseq});
  CHECK(r.set.elements().size() == 1);
  CHECK(fetch("a FETCH 1 uid\r\n").items.size() == 1);
}

TEST_CASE("BODY sections") {
  const auto r = fetch(
      "a FETCH 1 (BODY[] BODY.PEEK[HEADER] BODY[TEXT] BODY[1.2.MIME] BODY[3] "
      "BODY[4.1.HEADER.FIELDS (From \"X-Spam\" subject)] BODY.PEEK[HEADER.FIELDS.NOT (Received)] "
      "BODY[2.TEXT])\r\n");
  REQUIRE(r.items.size() == 8);
  CHECK(r.items[0] == fetch_item{kind::body_section, false, {}, {}});
  CHECK(r.items[1] == fetch_item{kind::body_section, true, {{}, text_kind::header, {}}, {}});
  CHECK(r.items[2].section.text == text_kind::text);
  CHECK(r.items[3].section == section_spec{{1, 2}, text_kind::mime, {}});
  CHECK(r.items[4].section == section_spec{{3}, text_kind::all, {}});
  CHECK(r.items[5].section ==
        section_spec{{4, 1}, text_kind::header_fields, {"FROM", "X-SPAM", "SUBJECT"}});
  CHECK(r.items[6].peek);
  CHECK(r.items[6].section == section_spec{{}, text_kind::header_fields_not, {"RECEIVED"}});
  CHECK(r.items[7].section == section_spec{{2}, text_kind::text, {}});
}

TEST_CASE("partials") {
  const auto r = fetch("a FETCH 1 (BODY[]<0.2048> BODY.PEEK[1]<100.5> BINARY[2]<7.1>)\r\n");
  CHECK(r.items[0].partial == partial_range{0, 2048});
  CHECK(r.items[1].partial == partial_range{100, 5});
  CHECK(r.items[2].partial == partial_range{7, 1});
  CHECK_FALSE(fetch("a FETCH 1 BODY[]\r\n").items[0].partial.has_value());
}

TEST_CASE("BINARY (RFC 3516)") {
  const auto r = fetch("a FETCH 1 (BINARY[] BINARY.PEEK[1.2] BINARY.SIZE[3])\r\n");
  CHECK(r.items[0] == fetch_item{kind::binary, false, {}, {}});
  CHECK(r.items[1] == fetch_item{kind::binary, true, {{1, 2}, text_kind::all, {}}, {}});
  CHECK(r.items[2] == fetch_item{kind::binary_size, false, {{3}, text_kind::all, {}}, {}});
}

TEST_CASE("CHANGEDSINCE and VANISHED (RFC 7162)") {
  auto r = fetch("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n");
  CHECK(r.changed_since == 12345u);
  CHECK(r.vanished);
  CHECK(kinds(r) == std::vector<kind>{kind::flags, kind::modseq});  // implied MODSEQ
  r = fetch("a FETCH 1 (FLAGS MODSEQ) (CHANGEDSINCE 1)\r\n");
  CHECK(kinds(r) == std::vector<kind>{kind::flags, kind::modseq});
  CHECK(fetch_error("a FETCH 1 FLAGS (VANISHED)\r\n") == "Invalid FETCH modifier");
  CHECK(fetch_error("a UID FETCH 1 FLAGS (VANISHED)\r\n") == "VANISHED requires CHANGEDSINCE");
  CHECK(fetch_error("a FETCH 1 FLAGS (CHANGEDSINCE)\r\n") == "Invalid FETCH modifier");
}

TEST_CASE("invalid FETCH arguments") {
  for (std::string_view bad : {
           "a FETCH 1 FOO\r\n",
           "a FETCH 1 ()\r\n",
           "a FETCH 1 (FLAGS FOO)\r\n",
           "a FETCH 1 BODY[MIME]\r\n",
           "a FETCH 1 BODY[0]\r\n",
           "a FETCH 1 BODY[1.]\r\n",
           "a FETCH 1 BODY[.1]\r\n",
           "a FETCH 1 BODY[01]\r\n",
           "a FETCH 1 BODY[HEADER.FIELDS]\r\n",
           "a FETCH 1 BODY[HEADER.FIELDS ()]\r\n",
           "a FETCH 1 BODY[HEADER.FIELDS (a:b)]\r\n",
           "a FETCH 1 BODY[HEADER.FIELDS (From]\r\n",
           "a FETCH 1 BODY[TEXT.HEADER]\r\n",
           "a FETCH 1 BODY[]<>\r\n",
           "a FETCH 1 BODY[]<1>\r\n",
           "a FETCH 1 BODY[]<1.0>\r\n",
           "a FETCH 1 BODY[]<a.1>\r\n",
           "a FETCH 1 BODY[]<1.2\r\n",
           "a FETCH 1 BINARY[HEADER]\r\n",
           "a FETCH 1 BINARY.SIZE[1]<0.1>\r\n",
           "a FETCH 1 RFC822[]\r\n",
           "a FETCH 0 FLAGS\r\n",
           "a FETCH \"1\" FLAGS\r\n",
           "a FETCH 1\r\n",
           "a FETCH 1 FLAGS (CHANGEDSINCE 1) x\r\n",
       }) {
    CHECK_FALSE(fetch_error(bad).empty());
  }
}
