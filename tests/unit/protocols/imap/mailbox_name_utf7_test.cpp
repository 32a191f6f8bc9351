#include <catch2/catch.hpp>

#include "packmail/protocols/imap/mailbox_name.h"

using namespace packmail::protocols::imap;

namespace {
std::string decode(std::string_view s) {
  auto r = mutf7_to_utf8(s);
  INFO(s);
  REQUIRE(r.ok());
  return r.value();
}
std::string encode(std::string_view s) {
  auto r = utf8_to_mutf7(s);
  REQUIRE(r.ok());
  return r.value();
}
}  // namespace

TEST_CASE("RFC 3501 5.1.3 example and round trips") {
  // "~peter/mail/台北/日本語"
  const std::string utf8 =
      "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e";
  CHECK(decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-") == utf8);
  CHECK(encode(utf8) == "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
  for (std::string_view name : {"INBOX", "", "Entw&APw-rfe", "&-", "a&-b&-", "&AOkA6QDp-",
                                "Sent &- Archive", "&2D3eAA-", "x&AOk-y&AOk-z"}) {
    INFO(name);
    CHECK(encode(decode(name)) == name);
  }
  CHECK(decode("Entw&APw-rfe") == "Entw\xc3\xbcrfe");
  CHECK(decode("&-") == "&");
  CHECK(encode("R&D") == "R&-D");
  // U+1F600 needs a surrogate pair.
  CHECK(encode("\xf0\x9f\x98\x80") == "&2D3eAA-");
  CHECK(decode("&2D3eAA-") == "\xf0\x9f\x98\x80");
  // Control characters and DEL are encoded too.
  CHECK(encode("a\tb\x7f") == "a&AAk-b&AH8-");
  CHECK(decode("a&AAk-b&AH8-") == "a\tb\x7f");
}

TEST_CASE("invalid modified UTF-7 is rejected") {
  for (std::string_view bad : {
           "&",            // unterminated
           "&U,BTFw",      // no "-"
           "&U/BTFw-",     // "/" is not modified BASE64
           "&U=BTFw-",     // no padding characters
           "&AGE-",        // "a" must represent itself
           "&ACY-",        // "&" must be "&-"
           "&AOk-&AOk-",   // null shift
           "&AO-",         // 12 bits: not a whole UTF-16 unit
           "&AOl-",        // non-zero padding bits
           "&2D0-",        // lone high surrogate
           "&3gA-",        // lone low surrogate
           "&2D3YPQ-",     // high surrogate followed by a high surrogate
           "caf\xc3\xa9",  // raw 8-bit
           "a\tb",         // raw control character
       }) {
    INFO(bad);
    CHECK_FALSE(mutf7_to_utf8(bad).ok());
  }
}

TEST_CASE("invalid UTF-8 is rejected when encoding") {
  for (std::string_view bad :
       {"\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", "a\x80"}) {
    CHECK_FALSE(utf8_to_mutf7(bad).ok());
  }
}
