// CRC-32C (Castagnoli), the checksum of stored message bodies
// (docs/storage-format.md). Uses the SSE4.2 crc32 instruction when the CPU has
// it and a portable slicing-by-8 table otherwise; both give identical results.
#pragma once

#include <cstdint>
#include <string_view>

namespace packmail::storage {

// Extends `crc` (the value returned for the preceding bytes; 0 to start) with
// `data`. Thread-safe.
std::uint32_t crc32c_extend(std::uint32_t crc, std::string_view data);

inline std::uint32_t crc32c(std::string_view data) { return crc32c_extend(0, data); }

// The portable implementation, exposed so tests can compare both paths.
std::uint32_t crc32c_extend_portable(std::uint32_t crc, std::string_view data);

}  // namespace packmail::storage
