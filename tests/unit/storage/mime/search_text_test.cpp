// The decoded header fields and body text kept for SEARCH.
#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "packmail/storage/mime.h"

namespace mime = packmail::storage::mime;

using header_list = std::vector<std::pair<std::string, std::string>>;

TEST_CASE("headers are unfolded and RFC 2047 decoded, in message order") {
  std::string raw =
      "Subject: =?UTF-8?B?SGVsbG8gd29ybGQ=?=\r\n"
      "\tagain\r\n"
      "From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.com>\r\n"
      "X-Empty:\r\n"
      "subject: second\r\n"
      "\r\n"
      "body\r\n";
  CHECK(mime::parse(raw).headers == header_list{{"Subject", "Hello world\tagain"},
                                                {"From", "Andr\xc3\xa9 <andre@example.com>"},
                                                {"X-Empty", ""},
                                                {"subject", "second"}});
}

TEST_CASE("raw 8-bit header values become valid UTF-8") {
  std::string raw = "Subject: caf\xe9\r\n\r\n";
  mime::message_structure s = mime::parse(raw);
  REQUIRE(s.headers.size() == 1);
  CHECK(s.headers[0].second == "caf\xc3\xa9");
}

TEST_CASE("body headers of sub-parts are not top-level headers") {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nX-Inner: no\r\n\r\nx\r\n--b--\r\n";
  CHECK(mime::parse(raw).headers == header_list{{"Content-Type", "multipart/mixed; boundary=b"}});
}

TEST_CASE("text removes base64 and quoted-printable and converts charsets") {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=b\r\n"
      "\r\n"
      "--b\r\n"
      "Content-Type: text/plain; charset=iso-8859-1\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n"
      "\r\n"
      "Caf=E9 au la=\r\nit\r\n"
      "--b\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "\r\n"
      "w7xiZXI=\r\n"
      "--b\r\n"
      "Content-Type: image/png\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "\r\n"
      "aW1hZ2U=\r\n"
      "--b\r\n"
      "Content-Type: text/plain; charset=koi8-r\r\n"
      "Content-Transfer-Encoding: 8bit\r\n"
      "\r\n"
      "\xf0\xd2\xc9\xd7\xc5\xd4\r\n"
      "--b--\r\n";
  CHECK(mime::parse(raw).text ==
        "Caf\xc3\xa9 au lait\n"
        "\xc3\xbc"
        "ber\n"
        "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
}

TEST_CASE("text includes text parts of encapsulated messages") {
  std::string raw =
      "Content-Type: message/rfc822\r\n"
      "\r\n"
      "Subject: inner\r\n"
      "\r\n"
      "inner text\r\n";
  CHECK(mime::parse(raw).text == "inner text\r\n");
}

TEST_CASE("a lying charset still yields valid UTF-8 text") {
  std::string raw = "Content-Type: text/plain; charset=us-ascii\r\n\r\nna\xefve\r\n";
  std::string text = mime::parse(raw).text;
  CHECK(text == "na\xc3\xafve\r\n");
}

TEST_CASE("an unknown charset falls back without losing ASCII text") {
  std::string raw = "Content-Type: text/plain; charset=x-no-such\r\n\r\nplain \xff words";
  std::string text = mime::parse(raw).text;
  CHECK(text.find("plain ") == 0);
  CHECK(text.find(" words") != std::string::npos);
}

TEST_CASE("a NUL byte in a text part does not hide the text after it") {
  static const char k_raw[] =
      "Content-Type: text/plain; charset=iso-8859-1\r\n\r\nbefore\0after \xe9";
  std::string raw(k_raw, sizeof(k_raw) - 1);
  CHECK(mime::parse(raw).text == "before after \xc3\xa9");
}
