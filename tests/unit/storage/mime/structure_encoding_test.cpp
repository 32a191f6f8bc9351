// The stored binary form of a message_structure (format in storage/mime/encode.cpp).
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "packmail/storage/mime.h"

namespace mime = packmail::storage::mime;

namespace {

mime::message_structure sample() {
  return mime::parse(
      "From: a@example.com\r\n"
      "Subject: =?UTF-8?Q?h=C3=A9?=\r\n"
      "Content-Type: multipart/mixed; boundary=b\r\n"
      "\r\n"
      "--b\r\n"
      "\r\n"
      "one\r\n"
      "--b\r\n"
      "Content-Type: message/rfc822\r\n"
      "\r\n"
      "Subject: inner\r\n"
      "\r\n"
      "two\r\n"
      "--b--\r\n");
}

bool same_part(const mime::part& a, const mime::part& b) {
  if (a.header_offset != b.header_offset || a.header_length != b.header_length ||
      a.body_offset != b.body_offset || a.body_length != b.body_length || a.type != b.type ||
      a.subtype != b.subtype || a.is_message != b.is_message ||
      a.children.size() != b.children.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.children.size(); ++i) {
    if (!same_part(a.children[i], b.children[i])) return false;
  }
  return true;
}

bool same_structure(const mime::message_structure& a, const mime::message_structure& b) {
  return a.envelope == b.envelope && a.bodystructure == b.bodystructure && a.body == b.body &&
         a.headers == b.headers && a.text == b.text && same_part(a.root, b.root);
}

// The checksum of the format: FNV-1a 32 of every byte before it, little-endian.
// Corruption cases re-seal their bytes with it, so that decode() gets past the
// checksum and each structural check has to reject them on its own.
std::string sealed(std::string_view payload) {
  std::uint32_t hash = 2166136261u;
  for (unsigned char c : payload) {
    hash ^= c;
    hash *= 16777619u;
  }
  std::string out(payload);
  for (int i = 0; i < 4; ++i) out += static_cast<char>(hash >> (8 * i));
  return out;
}

// encode() without its checksum.
std::string payload_of(const mime::message_structure& s) {
  std::string bytes = s.encode();
  bytes.resize(bytes.size() - 4);
  return bytes;
}

// Builds payloads by hand, field by field, in the format's own terms.
class blob {
 public:
  blob& byte(std::uint8_t b) {
    bytes_ += static_cast<char>(b);
    return *this;
  }
  blob& varint(std::uint64_t v) {
    while (v >= 0x80) {
      byte(static_cast<std::uint8_t>(v | 0x80));
      v >>= 7;
    }
    return byte(static_cast<std::uint8_t>(v));
  }
  blob& string(std::string_view s) {
    varint(s.size());
    bytes_ += s;
    return *this;
  }
  blob& raw(std::string_view s) {
    bytes_ += s;
    return *this;
  }
  // version 1 and empty envelope, bodystructure and body.
  blob& header() { return byte(1).string("").string("").string(""); }
  // A part's fields up to its child count: zero offsets, no flags, "text/plain".
  blob& part_fields(std::uint8_t flags = 0) {
    return varint(0).varint(0).varint(0).varint(0).byte(flags).string("text").string("plain");
  }
  // No headers, no text.
  blob& trailer() { return varint(0).string(""); }
  const std::string& payload() const { return bytes_; }

 private:
  std::string bytes_;
};

// A structure whose parts nest `depth` levels below the root.
std::string nested(int depth) {
  blob b;
  b.header();
  for (int i = 0; i < depth; ++i) b.part_fields().varint(1);
  b.part_fields().varint(0);
  b.trailer();
  return b.payload();
}

}  // namespace

TEST_CASE("decode of encode gives back every field") {
  mime::message_structure s = sample();
  std::optional<mime::message_structure> d = mime::message_structure::decode(s.encode());
  REQUIRE(d.has_value());
  CHECK(d->envelope == s.envelope);
  CHECK(d->bodystructure == s.bodystructure);
  CHECK(d->body == s.body);
  CHECK(d->headers == s.headers);
  CHECK(d->text == s.text);
  CHECK(same_part(d->root, s.root));
  CHECK(d->root.children.at(1).children.at(0).is_message);
}

TEST_CASE("encoding starts with version byte 1") {
  std::string bytes = sample().encode();
  REQUIRE_FALSE(bytes.empty());
  CHECK(bytes[0] == '\x01');
}

TEST_CASE("large offsets survive the varint encoding") {
  mime::message_structure s;
  s.root.header_offset = 0xFFFFFFFFFFFFFFFFull;
  s.root.body_length = 0x8000000000000000ull;
  std::optional<mime::message_structure> d = mime::message_structure::decode(s.encode());
  REQUIRE(d.has_value());
  CHECK(d->root.header_offset == 0xFFFFFFFFFFFFFFFFull);
  CHECK(d->root.body_length == 0x8000000000000000ull);
}

TEST_CASE("a hand-built blob decodes: the builder speaks the format") {
  std::optional<mime::message_structure> d = mime::message_structure::decode(
      sealed(blob().header().part_fields().varint(0).trailer().payload()));
  REQUIRE(d.has_value());
  CHECK(d->root.type == "text");
  CHECK(d->root.children.empty());
  REQUIRE(mime::message_structure::decode(sealed(nested(100))).has_value());
}

TEST_CASE("decode rejects every truncation") {
  std::string bytes = sample().encode();
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    INFO("length " << n);
    CHECK_FALSE(mime::message_structure::decode(bytes.substr(0, n)).has_value());
  }
}

TEST_CASE("decode rejects every truncation of the payload, even with a valid checksum") {
  const std::string payload = payload_of(sample());
  for (std::size_t n = 0; n < payload.size(); ++n) {
    INFO("length " << n);
    CHECK_FALSE(mime::message_structure::decode(sealed(payload.substr(0, n))).has_value());
  }
}

TEST_CASE("decode rejects trailing bytes") {
  CHECK_FALSE(mime::message_structure::decode(sample().encode() + "x").has_value());
}

TEST_CASE("decode rejects trailing bytes, even with a valid checksum") {
  CHECK_FALSE(mime::message_structure::decode(sealed(payload_of(sample()) + "x")).has_value());
}

TEST_CASE("decode rejects every single flipped byte") {
  std::string bytes = sample().encode();
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::string corrupt = bytes;
    corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
    INFO("offset " << i);
    CHECK_FALSE(mime::message_structure::decode(corrupt).has_value());
  }
}

TEST_CASE("a flipped byte with a valid checksum is rejected or decodes to something else") {
  // The encoding is canonical, so no flip may decode back to the original: a
  // flip the structural checks let through must show in some field.
  const mime::message_structure original = sample();
  const std::string payload = payload_of(original);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    std::string corrupt = payload;
    corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
    INFO("offset " << i);
    std::optional<mime::message_structure> d = mime::message_structure::decode(sealed(corrupt));
    CHECK((!d.has_value() || !same_structure(*d, original)));
  }
}

TEST_CASE("decode rejects an unknown version") {
  mime::message_structure s;
  // Rewrite the version and fix the checksum so only the version is wrong.
  std::string payload = payload_of(s);
  payload[0] = '\x02';
  std::string bytes = sealed(payload);
  REQUIRE(bytes.size() == s.encode().size());
  CHECK_FALSE(mime::message_structure::decode(bytes).has_value());
  bytes[0] = '\x01';
  // Sanity: the same bytes with version 1 but a stale checksum fail too.
  CHECK_FALSE(mime::message_structure::decode(bytes).has_value());
}

TEST_CASE("decode rejects part flags other than is_message") {
  for (std::uint8_t flags : {0x02, 0x80, 0x03}) {
    INFO("flags " << int{flags});
    const std::string bad = blob().header().part_fields(flags).varint(0).trailer().payload();
    CHECK_FALSE(mime::message_structure::decode(sealed(bad)).has_value());
  }
  const std::string good = blob().header().part_fields(0x01).varint(0).trailer().payload();
  std::optional<mime::message_structure> d = mime::message_structure::decode(sealed(good));
  REQUIRE(d.has_value());
  CHECK(d->root.is_message);
}

TEST_CASE("decode rejects a string longer than the bytes left") {
  const std::string bad = blob().byte(1).varint(1000).raw("short").payload();
  CHECK_FALSE(mime::message_structure::decode(sealed(bad)).has_value());
}

TEST_CASE("decode rejects a varint that overflows 64 bits") {
  // Ten bytes whose last carries more than the top bit of a 64-bit value.
  blob ten;
  ten.header();
  for (int i = 0; i < 9; ++i) ten.byte(0x80);
  ten.byte(0x02).varint(0).varint(0).varint(0).byte(0).string("text").string("plain");
  ten.varint(0).trailer();
  CHECK_FALSE(mime::message_structure::decode(sealed(ten.payload())).has_value());
  // Eleven bytes: longer than any 64-bit varint.
  blob eleven;
  eleven.header();
  for (int i = 0; i < 10; ++i) eleven.byte(0x80);
  eleven.byte(0x00).varint(0).varint(0).varint(0).byte(0).string("text").string("plain");
  eleven.varint(0).trailer();
  CHECK_FALSE(mime::message_structure::decode(sealed(eleven.payload())).has_value());
}

TEST_CASE("decode rejects a child count the bytes left cannot hold") {
  // Without the bound this would allocate 2^40 parts before reading any.
  const std::string bad = blob().header().part_fields().varint(1ull << 40).trailer().payload();
  CHECK_FALSE(mime::message_structure::decode(sealed(bad)).has_value());
}

TEST_CASE("decode rejects a header count the bytes left cannot hold") {
  const std::string bad =
      blob().header().part_fields().varint(0).varint(1ull << 40).string("").payload();
  CHECK_FALSE(mime::message_structure::decode(sealed(bad)).has_value());
}

TEST_CASE("decode rejects parts nested deeper than the decode limit") {
  // parse() bounds MIME nesting far below this; only a hostile blob nests so deep.
  CHECK_FALSE(mime::message_structure::decode(sealed(nested(2000))).has_value());
}

TEST_CASE("decode rejects garbage") {
  CHECK_FALSE(mime::message_structure::decode("").has_value());
  CHECK_FALSE(mime::message_structure::decode("garbage that is not a structure").has_value());
  CHECK_FALSE(mime::message_structure::decode(std::string(64, '\xff')).has_value());
}

TEST_CASE("decode rejects garbage, even with a valid checksum") {
  CHECK_FALSE(
      mime::message_structure::decode(sealed("garbage that is not a structure")).has_value());
  CHECK_FALSE(mime::message_structure::decode(sealed(std::string(64, '\xff'))).has_value());
  CHECK_FALSE(
      mime::message_structure::decode(sealed("\x01" + std::string(64, '\xff'))).has_value());
}
