#include "packmail/storage/crc32c.h"

#include <array>
#include <cstring>

namespace packmail::storage {
namespace {

constexpr std::uint32_t k_poly = 0x82F63B78u;  // reflected Castagnoli polynomial

using table_t = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr table_t make_tables() {
  table_t t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ k_poly : c >> 1;
    t[0][i] = c;
  }
  for (std::uint32_t i = 0; i < 256; ++i) {
    for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
  return t;
}

constexpr table_t k_tables = make_tables();

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t extend_sse42(std::uint32_t crc,
                                                             std::string_view data) {
  std::uint64_t c = ~crc;
  const char* p = data.data();
  std::size_t n = data.size();
  while (n >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c);
  while (n > 0) {
    c32 = __builtin_ia32_crc32qi(c32, static_cast<unsigned char>(*p));
    ++p;
    --n;
  }
  return ~c32;
}

bool have_sse42() {
  static const bool have = __builtin_cpu_supports("sse4.2");
  return have;
}
#endif

}  // namespace

std::uint32_t crc32c_extend_portable(std::uint32_t crc, std::string_view data) {
  std::uint32_t c = ~crc;
  auto p = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t n = data.size();
  while (n >= 8) {
    // Slicing-by-8: eight table lookups per 8 bytes instead of a loop per bit.
    std::uint32_t lo = c ^ (std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 |
                            std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24);
    c = k_tables[7][lo & 0xFF] ^ k_tables[6][(lo >> 8) & 0xFF] ^ k_tables[5][(lo >> 16) & 0xFF] ^
        k_tables[4][lo >> 24] ^ k_tables[3][p[4]] ^ k_tables[2][p[5]] ^ k_tables[1][p[6]] ^
        k_tables[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    c = (c >> 8) ^ k_tables[0][(c ^ *p) & 0xFF];
    ++p;
    --n;
  }
  return ~c;
}

std::uint32_t crc32c_extend(std::uint32_t crc, std::string_view data) {
#if defined(__x86_64__)
  if (have_sse42()) return extend_sse42(crc, data);
#endif
  return crc32c_extend_portable(crc, data);
}

}  // namespace packmail::storage
