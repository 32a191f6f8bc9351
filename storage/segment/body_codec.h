// The body record stored in the `body` CF under its 16-byte body id:
//
//   version u8 (=1) | body_id [16] | raw_len u64 | crc32c u32 | raw bytes
//
// crc32c covers version, body_id, raw_len and the raw bytes, so a record
// stored (or read) under the wrong key fails verification just like flipped
// bits do. See docs/storage-format.md.
#pragma once

#include <string>
#include <string_view>

#include "packmail/storage/status.h"
#include "packmail/storage/store.h"

namespace packmail::storage::segment {

constexpr std::uint8_t k_body_record_version = 1;
constexpr std::size_t k_body_header_size = 1 + 16 + 8 + 4;

std::string encode_body(const body_id& id, std::string_view raw);

// Verifies the record read under key `id` and returns a view of the raw bytes
// inside `record`. corrupt (with a message naming what failed) on a short
// record, an unknown version, a foreign body id, a length mismatch or a bad
// checksum. Never returns unverified bytes.
result<std::string_view> decode_body(const body_id& id, std::string_view record);

std::string body_id_hex(const body_id& id);

}  // namespace packmail::storage::segment
