// parse() on hostile and broken input: no crash, no hang, bounded nesting.
#include <catch2/catch.hpp>
#include <string>

#include "packmail/storage/mime.h"

namespace mime = packmail::storage::mime;

namespace {

std::size_t depth_of(const mime::part& p) {
  std::size_t deepest = 0;
  for (const mime::part& child : p.children) deepest = std::max(deepest, depth_of(child));
  return deepest + 1;
}

}  // namespace

TEST_CASE("deep multipart nesting is cut off at a bounded depth") {
  std::string raw;
  for (int i = 0; i < 5000; ++i) {
    raw += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" +
           std::to_string(i) + "\r\n";
  }
  raw += "\r\nleaf\r\n";
  mime::message_structure s = mime::parse(raw);
  CHECK(depth_of(s.root) <= 101);
  CHECK(depth_of(s.root) > 50);
  // The structure still round-trips through the stored form.
  CHECK(mime::message_structure::decode(s.encode()).has_value());
  // The innermost kept entity is served as an opaque leaf.
  const mime::part* p = &s.root;
  while (!p->children.empty()) p = &p->children[0];
  CHECK(p->type == "application");
  CHECK(p->subtype == "octet-stream");
}

TEST_CASE("deep message/rfc822 nesting is cut off at a bounded depth") {
  std::string raw;
  for (int i = 0; i < 5000; ++i) raw += "Content-Type: message/rfc822\r\n\r\n";
  mime::message_structure s = mime::parse(raw);
  CHECK(depth_of(s.root) <= 101);
}

TEST_CASE("unterminated quotes, comments and brackets in headers are tolerated") {
  std::string raw =
      "From: \"unterminated <a@b\r\n"
      "To: (comment (nested <x@y>, <@route,@only\r\n"
      "Cc: ,,,;;;:::<<<>>>@@@[[[\r\n"
      "Content-Type: multipart/mixed; boundary=\"\r\n"
      "Content-Disposition: ;;;=\"\r\n"
      "Content-Language: ,,,\r\n"
      "\r\n"
      "body";
  mime::message_structure s = mime::parse(raw);
  CHECK(s.envelope.front() == '(');
  CHECK(s.envelope.back() == ')');
  CHECK(s.bodystructure.front() == '(');
}

TEST_CASE("NUL bytes and bare CRs do not end parsing") {
  std::string raw("Subject: a\0b\r\nX: c\rd\r\n\r\nbo\0dy", 29);
  mime::message_structure s = mime::parse(raw);
  CHECK(s.root.body_length == 5);
  CHECK(s.envelope.substr(0, 9) == "(NIL {3}\r");
}

TEST_CASE("many empty parts are all listed") {
  std::string raw = "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
  for (int i = 0; i < 1000; ++i) raw += "--b\r\n";
  raw += "--b--\r\n";
  mime::message_structure s = mime::parse(raw);
  CHECK(s.root.children.size() == 1000);
}
