// The part tree's byte offsets, checked by slicing the raw message as FETCH
// BODY[n.MIME], BODY[n.HEADER], BODY[n.TEXT] and BODY[n] will.
#include <catch2/catch.hpp>
#include <string>
#include <string_view>

#include "packmail/storage/mime.h"

namespace mime = packmail::storage::mime;

namespace {

std::string header_of(const std::string& raw, const mime::part& p) {
  return raw.substr(p.header_offset, p.header_length);
}

std::string body_of(const std::string& raw, const mime::part& p) {
  return raw.substr(p.body_offset, p.body_length);
}

// Every entity's header is immediately followed by its body.
void check_contiguous(const mime::part& p) {
  CHECK(p.header_offset + p.header_length == p.body_offset);
  for (const mime::part& child : p.children) check_contiguous(child);
}

const std::string k_nested =
    "From: a@example.com\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "This is the preamble.\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "plain text\r\n"
    "--inner\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p>html</p>\r\n"
    "\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: forwarded\r\n"
    "Content-Type: multipart/mixed; boundary=fwd\r\n"
    "\r\n"
    "--fwd\r\n"
    "\r\n"
    "fwd body\r\n"
    "--fwd--\r\n"
    "\r\n"
    "--outer--\r\n"
    "epilogue\r\n";

}  // namespace

TEST_CASE("top-level header includes the blank line and the body runs to the end") {
  std::string raw = "Subject: x\r\n\r\nbody\r\n";
  mime::message_structure s = mime::parse(raw);
  CHECK(header_of(raw, s.root) == "Subject: x\r\n\r\n");
  CHECK(body_of(raw, s.root) == "body\r\n");
  CHECK(s.root.is_message);
}

TEST_CASE("nested multipart and message/rfc822 offsets slice the exact entities") {
  const std::string& raw = k_nested;
  mime::message_structure s = mime::parse(raw);
  check_contiguous(s.root);
  CHECK(header_of(raw, s.root) ==
        "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n");
  REQUIRE(s.root.children.size() == 2);

  // 1: multipart/alternative
  const mime::part& alt = s.root.children[0];
  CHECK(alt.type == "multipart");
  CHECK(alt.subtype == "alternative");
  CHECK_FALSE(alt.is_message);
  CHECK(header_of(raw, alt) == "Content-Type: multipart/alternative; boundary=inner\r\n\r\n");
  CHECK(body_of(raw, alt) ==
        "--inner\r\nContent-Type: text/plain\r\n\r\nplain text\r\n--inner\r\n"
        "Content-Type: text/html\r\n\r\n<p>html</p>\r\n\r\n--inner--");
  REQUIRE(alt.children.size() == 2);
  // 1.1 and 1.2: the CRLF before the next delimiter is not part of the body.
  CHECK(header_of(raw, alt.children[0]) == "Content-Type: text/plain\r\n\r\n");
  CHECK(body_of(raw, alt.children[0]) == "plain text");
  CHECK(header_of(raw, alt.children[1]) == "Content-Type: text/html\r\n\r\n");
  CHECK(body_of(raw, alt.children[1]) == "<p>html</p>\r\n");

  // 2: message/rfc822 and its encapsulated message 2.HEADER / 2.TEXT
  const mime::part& fwd = s.root.children[1];
  CHECK(fwd.type == "message");
  CHECK(fwd.subtype == "rfc822");
  CHECK(header_of(raw, fwd) == "Content-Type: message/rfc822\r\n\r\n");
  REQUIRE(fwd.children.size() == 1);
  const mime::part& encapsulated = fwd.children[0];
  CHECK(encapsulated.is_message);
  CHECK(encapsulated.type == "multipart");
  CHECK(encapsulated.header_offset == fwd.body_offset);
  CHECK(encapsulated.body_offset + encapsulated.body_length == fwd.body_offset + fwd.body_length);
  CHECK(header_of(raw, encapsulated) ==
        "Subject: forwarded\r\nContent-Type: multipart/mixed; boundary=fwd\r\n\r\n");
  CHECK(body_of(raw, encapsulated) == "--fwd\r\n\r\nfwd body\r\n--fwd--\r\n");
  // 2.1: a part with an empty MIME header is just the blank line.
  REQUIRE(encapsulated.children.size() == 1);
  CHECK(header_of(raw, encapsulated.children[0]) == "\r\n");
  CHECK(body_of(raw, encapsulated.children[0]) == "fwd body");
}

TEST_CASE("LF-only messages get the same structure with LF-sized offsets") {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=b\n"
      "\n"
      "--b\n"
      "Content-Type: text/plain\n"
      "\n"
      "one\n"
      "--b\n"
      "\n"
      "two\n"
      "--b--\n";
  mime::message_structure s = mime::parse(raw);
  check_contiguous(s.root);
  CHECK(header_of(raw, s.root) == "Content-Type: multipart/mixed; boundary=b\n\n");
  REQUIRE(s.root.children.size() == 2);
  CHECK(header_of(raw, s.root.children[0]) == "Content-Type: text/plain\n\n");
  CHECK(body_of(raw, s.root.children[0]) == "one");
  CHECK(header_of(raw, s.root.children[1]) == "\n");
  CHECK(body_of(raw, s.root.children[1]) == "two");
}

TEST_CASE("a message with no blank line is all header") {
  std::string raw = "Subject: only headers\r\nFrom: x@y.test";
  mime::message_structure s = mime::parse(raw);
  CHECK(s.root.header_length == raw.size());
  CHECK(s.root.body_offset == raw.size());
  CHECK(s.root.body_length == 0);
}

TEST_CASE("a missing close delimiter ends the last part at the end of the body") {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nfirst\r\n--b\r\n\r\nlast\r\n";
  mime::message_structure s = mime::parse(raw);
  REQUIRE(s.root.children.size() == 2);
  CHECK(body_of(raw, s.root.children[0]) == "first");
  CHECK(body_of(raw, s.root.children[1]) == "last\r\n");
}

TEST_CASE("a boundary that is a prefix of a line is not a delimiter") {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n--bx not a delimiter\r\n"
      "--b--\r\n";
  mime::message_structure s = mime::parse(raw);
  REQUIRE(s.root.children.size() == 1);
  CHECK(body_of(raw, s.root.children[0]) == "--bx not a delimiter");
}

TEST_CASE("an inner part ends at the outer delimiter when its own close is missing") {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=o\r\n\r\n"
      "--o\r\n"
      "Content-Type: multipart/mixed; boundary=i\r\n\r\n"
      "--i\r\n\r\ninner\r\n"
      "--o\r\n\r\nsecond\r\n"
      "--o--\r\n";
  mime::message_structure s = mime::parse(raw);
  REQUIRE(s.root.children.size() == 2);
  REQUIRE(s.root.children[0].children.size() == 1);
  CHECK(body_of(raw, s.root.children[0].children[0]) == "inner");
  CHECK(body_of(raw, s.root.children[1]) == "second");
}

TEST_CASE("delimiter lines may carry trailing white space") {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b  \r\n\r\nx\r\n--b-- \t\r\n";
  mime::message_structure s = mime::parse(raw);
  REQUIRE(s.root.children.size() == 1);
  CHECK(body_of(raw, s.root.children[0]) == "x");
}
