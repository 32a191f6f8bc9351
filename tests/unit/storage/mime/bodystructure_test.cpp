// BODY and BODYSTRUCTURE as rendered on the wire (RFC 3501 7.4.2).
#include <catch2/catch.hpp>
#include <string>

#include "packmail/storage/mime.h"

namespace mime = packmail::storage::mime;

TEST_CASE("a message without Content-Type is text/plain us-ascii 7bit") {
  std::string raw = "Subject: x\r\n\r\nline one\r\nline two\r\n";
  mime::message_structure s = mime::parse(raw);
  CHECK(s.body == R"(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 20 2))");
  CHECK(s.bodystructure ==
        R"(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 20 2 NIL NIL NIL NIL))");
}

TEST_CASE(
    "single part fields: params, id, description, encoding, md5, disposition, language, "
    "location") {
  std::string raw =
      "Content-Type: text/html; charset=\"UTF-8\"; format=flowed\r\n"
      "Content-ID: <id1@example.com>\r\n"
      "Content-Description: =?UTF-8?Q?caf=C3=A9?=\r\n"
      "Content-Transfer-Encoding: Quoted-Printable\r\n"
      "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
      "Content-Disposition: inline; filename=page.html\r\n"
      "Content-Language: en, de-CH\r\n"
      "Content-Location: http://example.com/page\r\n"
      "\r\n"
      "<p>x</p>";
  mime::message_structure s = mime::parse(raw);
  CHECK(s.bodystructure ==
        R"(("TEXT" "HTML" ("CHARSET" "UTF-8" "FORMAT" "flowed") "<id1@example.com>" )"
        R"("=?UTF-8?Q?caf=C3=A9?=" "QUOTED-PRINTABLE" 8 0 "Q2hlY2sgSW50ZWdyaXR5IQ==" )"
        R"(("INLINE" ("FILENAME" "page.html")) ("en" "de-CH") "http://example.com/page"))");
  CHECK(s.body == R"(("TEXT" "HTML" ("CHARSET" "UTF-8" "FORMAT" "flowed") "<id1@example.com>" )"
                  R"("=?UTF-8?Q?caf=C3=A9?=" "QUOTED-PRINTABLE" 8 0))");
}

TEST_CASE("non-text leaf has no line count and no default charset") {
  std::string raw =
      "Content-Type: image/png; name=\"a b.png\"\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "\r\n"
      "iVBORw0KGgo=\r\n";
  CHECK(mime::parse(raw).body == R"(("IMAGE" "PNG" ("NAME" "a b.png") NIL NIL "BASE64" 14))");
}

TEST_CASE("multipart lists its parts, then subtype and extension data") {
  std::string raw =
      "Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
      "\r\n"
      "--b1\r\n"
      "\r\n"
      "plain\r\n"
      "--b1\r\n"
      "Content-Type: text/html\r\n"
      "\r\n"
      "<b>x</b>\r\n"
      "--b1--\r\n";
  mime::message_structure s = mime::parse(raw);
  CHECK(s.body == R"((("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 5 0))"
                  R"(("TEXT" "HTML" ("CHARSET" "us-ascii") NIL NIL "7BIT" 8 0) "ALTERNATIVE"))");
  CHECK(s.bodystructure ==
        R"((("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 5 0 NIL NIL NIL NIL))"
        R"(("TEXT" "HTML" ("CHARSET" "us-ascii") NIL NIL "7BIT" 8 0 NIL NIL NIL NIL) )"
        R"("ALTERNATIVE" ("BOUNDARY" "b1") NIL NIL NIL))");
}

TEST_CASE("message/rfc822 carries the encapsulated envelope, body and line count") {
  std::string inner = "From: a@b.test\r\nSubject: inner\r\n\r\nhello\r\n";
  std::string raw =
      "Content-Type: multipart/mixed; boundary=X\r\n"
      "\r\n"
      "--X\r\n"
      "Content-Type: message/rfc822\r\n"
      "\r\n" +
      inner + "--X--\r\n";
  mime::message_structure s = mime::parse(raw);
  // The part body excludes the CRLF before the close delimiter.
  std::string size = std::to_string(inner.size() - 2);
  std::string env = R"((NIL "inner" ((NIL NIL "a" "b.test")) ((NIL NIL "a" "b.test")) )"
                    R"(((NIL NIL "a" "b.test")) NIL NIL NIL NIL NIL))";
  CHECK(s.body == "((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" " + size + " " + env +
                      R"( ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 5 0) 3) "MIXED"))");
  CHECK(s.bodystructure ==
        "((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" " + size + " " + env +
            R"( ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 5 0 NIL NIL NIL NIL) 3 )"
            R"(NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "X") NIL NIL NIL))");
}

TEST_CASE("parts of multipart/digest default to message/rfc822") {
  std::string raw =
      "Content-Type: multipart/digest; boundary=d\r\n"
      "\r\n"
      "--d\r\n"
      "\r\n"
      "Subject: s\r\n"
      "\r\n"
      "t\r\n"
      "--d--\r\n";
  mime::message_structure s = mime::parse(raw);
  REQUIRE(s.root.children.size() == 1);
  CHECK(s.root.children[0].type == "message");
  CHECK(s.root.children[0].subtype == "rfc822");
  CHECK(s.body ==
        R"((("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 15 (NIL "s" NIL NIL NIL NIL NIL NIL NIL NIL) )"
        R"(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 1 0) 2) "DIGEST"))");
}

TEST_CASE("RFC 2231 continuations are merged into one parameter") {
  std::string raw =
      "Content-Type: application/pdf;\r\n"
      " name*0*=utf-8''a%20;\r\n"
      " name*1=\"b c.pdf\"\r\n"
      "Content-Disposition: attachment; filename*0=\"long \"; filename*1=name.pdf\r\n"
      "\r\n"
      "x";
  CHECK(mime::parse(raw).bodystructure ==
        R"(("APPLICATION" "PDF" ("NAME*" "utf-8''a%20b%20c.pdf") NIL NIL "7BIT" 1 NIL )"
        R"(("ATTACHMENT" ("FILENAME" "long name.pdf")) NIL NIL))");
}

TEST_CASE("a multipart whose boundary never occurs still lists one empty part") {
  std::string raw = "Content-Type: multipart/mixed; boundary=nope\r\n\r\njust text\r\n";
  mime::message_structure s = mime::parse(raw);
  CHECK(s.root.children.empty());
  CHECK(s.body == R"((("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0) "MIXED"))");
}

TEST_CASE("an unparsable Content-Type falls back to text/plain") {
  std::string raw = "Content-Type: garbage\r\n\r\nx\r\n";
  mime::message_structure s = mime::parse(raw);
  CHECK(s.root.type == "text");
  CHECK(s.root.subtype == "plain");
  CHECK(s.body == R"(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 3 1))");
}

TEST_CASE("part types are recorded in lower case") {
  std::string raw = "Content-Type: Text/HTML\r\n\r\nx";
  mime::message_structure s = mime::parse(raw);
  CHECK(s.root.type == "text");
  CHECK(s.root.subtype == "html");
  CHECK(s.root.is_message);
}
