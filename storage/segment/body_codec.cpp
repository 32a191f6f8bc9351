#include "body_codec.h"

#include <fmt/format.h>

#include "keys.h"
#include "packmail/storage/crc32c.h"

namespace packmail::storage::segment {

std::string body_id_hex(const body_id& id) {
  std::string out;
  for (auto b : id) out += fmt::format("{:02x}", b);
  return out;
}

std::string encode_body(const body_id& id, std::string_view raw) {
  std::string rec;
  rec.reserve(k_body_header_size + raw.size());
  put_u8(rec, k_body_record_version);
  rec.append(reinterpret_cast<const char*>(id.data()), id.size());
  put_u64(rec, raw.size());
  std::uint32_t crc = crc32c(rec);
  crc = crc32c_extend(crc, raw);
  put_u32(rec, crc);
  rec += raw;
  return rec;
}

result<std::string_view> decode_body(const body_id& id, std::string_view record) {
  auto fail = [&](std::string what) -> result<std::string_view> {
    return status(errc::corrupt, fmt::format("body {}: {}", body_id_hex(id), what));
  };
  if (record.size() < k_body_header_size) {
    return fail(fmt::format("record truncated ({} bytes, header needs {})", record.size(),
                            k_body_header_size));
  }
  reader in(record);
  std::uint8_t version = in.u8();
  if (version != k_body_record_version) {
    return fail(fmt::format("unknown body record version {}", version));
  }
  std::string_view stored_id = in.bytes(16);
  if (stored_id != std::string_view(reinterpret_cast<const char*>(id.data()), id.size())) {
    return fail("record belongs to another body id (misdirected write or read)");
  }
  std::uint64_t raw_len = in.u64();
  std::uint32_t stored_crc = in.u32();
  std::string_view raw = in.rest();
  if (raw.size() != raw_len) {
    return fail(
        fmt::format("length mismatch: header says {} bytes, record holds {}", raw_len, raw.size()));
  }
  std::uint32_t crc = crc32c(record.substr(0, k_body_header_size - 4));
  crc = crc32c_extend(crc, raw);
  if (crc != stored_crc) {
    return fail(
        fmt::format("checksum mismatch: stored crc32c {:08x}, computed {:08x}", stored_crc, crc));
  }
  return raw;
}

}  // namespace packmail::storage::segment
