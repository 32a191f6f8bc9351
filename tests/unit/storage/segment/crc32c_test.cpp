#include <catch2/catch.hpp>

#include "packmail/storage/crc32c.h"

using namespace packmail::storage;

TEST_CASE("crc32c matches the Castagnoli check values", "[crc32c]") {
  CHECK(crc32c("") == 0u);
  CHECK(crc32c("123456789") == 0xE3069283u);            // the standard check value
  CHECK(crc32c(std::string(32, '\0')) == 0x8A9136AAu);  // RFC 3720 B.4
  CHECK(crc32c(std::string(32, '\xff')) == 0x62A8AB43u);
}

TEST_CASE("crc32c hardware and portable paths agree at every length and split", "[crc32c]") {
  std::string data;
  for (int i = 0; i < 300; ++i) data.push_back(static_cast<char>(i * 37 + 11));
  for (std::size_t len = 0; len <= data.size(); ++len) {
    std::string_view v(data.data(), len);
    std::uint32_t whole = crc32c(v);
    REQUIRE(whole == crc32c_extend_portable(0, v));
    std::size_t cut = len / 3;
    REQUIRE(crc32c_extend(crc32c(v.substr(0, cut)), v.substr(cut)) == whole);
  }
}
