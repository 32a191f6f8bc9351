// The stored form of a message_structure, written once at delivery and read on
// every FETCH/SEARCH.
//
// Format, version 1 (all integers are unsigned LEB128 varints, at most 10
// bytes; a "string" is a varint length followed by that many raw bytes):
//
//   structure := version:u8 (= 1)
//                envelope:string bodystructure:string body:string
//                part
//                header_count:varint (name:string value:string){header_count}
//                text:string
//                checksum:u32 little-endian (FNV-1a 32 of every byte before it)
//   part      := header_offset header_length body_offset body_length (varints)
//                flags:u8 (bit 0: is_message; other bits must be zero)
//                type:string subtype:string
//                child_count:varint part{child_count}
//
// decode() accepts only bytes that parse exactly to their end with a matching
// checksum; anything else (truncation, garbage, a later version) is nullopt.
// Part nesting is bounded by k_max_decode_depth so a hostile blob cannot
// exhaust the stack.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "packmail/storage/mime.h"

namespace packmail::storage::mime {
namespace {

constexpr std::uint8_t k_format_version = 1;
constexpr std::uint8_t k_flag_is_message = 0x01;
// parse() bounds MIME nesting well below this; deeper blobs are corrupt.
constexpr int k_max_decode_depth = 512;
constexpr std::size_t k_checksum_size = 4;

std::uint32_t fnv1a32(std::string_view bytes) {
  std::uint32_t hash = 2166136261u;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 16777619u;
  }
  return hash;
}

class writer {
 public:
  void put_byte(std::uint8_t b) { out_.push_back(static_cast<char>(b)); }

  void put_varint(std::uint64_t v) {
    while (v >= 0x80) {
      put_byte(static_cast<std::uint8_t>(v | 0x80));
      v >>= 7;
    }
    put_byte(static_cast<std::uint8_t>(v));
  }

  void put_string(std::string_view s) {
    put_varint(s.size());
    out_.append(s);
  }

  void put_u32_le(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) put_byte(static_cast<std::uint8_t>(v >> (8 * i)));
  }

  std::string& bytes() { return out_; }

 private:
  std::string out_;
};

// Every read checks the remaining length first; a failed read poisons the
// reader so callers may check once at the end of a group of reads.
class reader {
 public:
  explicit reader(std::string_view in) : in_(in) {}

  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == in_.size(); }
  std::size_t remaining() const { return in_.size() - pos_; }

  std::uint8_t get_byte() {
    if (!ok_ || pos_ >= in_.size()) return fail_u8();
    return static_cast<std::uint8_t>(in_[pos_++]);
  }

  std::uint64_t get_varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      std::uint8_t b = get_byte();
      if (!ok_) return 0;
      // The tenth byte may only carry the top bit of a 64-bit value.
      if (shift == 63 && b > 1) return fail_u64();
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    return fail_u64();
  }

  std::string get_string() {
    std::uint64_t n = get_varint();
    if (!ok_ || n > remaining()) {
      ok_ = false;
      return {};
    }
    std::string s(in_.substr(pos_, static_cast<std::size_t>(n)));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }

 private:
  std::uint8_t fail_u8() {
    ok_ = false;
    return 0;
  }
  std::uint64_t fail_u64() {
    ok_ = false;
    return 0;
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

void write_part(writer& w, const part& p) {
  w.put_varint(p.header_offset);
  w.put_varint(p.header_length);
  w.put_varint(p.body_offset);
  w.put_varint(p.body_length);
  w.put_byte(p.is_message ? k_flag_is_message : 0);
  w.put_string(p.type);
  w.put_string(p.subtype);
  w.put_varint(p.children.size());
  for (const part& child : p.children) write_part(w, child);
}

bool read_part(reader& r, part& p, int depth) {
  if (depth > k_max_decode_depth) return false;
  p.header_offset = r.get_varint();
  p.header_length = r.get_varint();
  p.body_offset = r.get_varint();
  p.body_length = r.get_varint();
  std::uint8_t flags = r.get_byte();
  if ((flags & ~k_flag_is_message) != 0) return false;
  p.is_message = (flags & k_flag_is_message) != 0;
  p.type = r.get_string();
  p.subtype = r.get_string();
  std::uint64_t child_count = r.get_varint();
  if (!r.ok()) return false;
  // Each encoded part takes at least 9 bytes; this bounds the allocation
  // below by the input size.
  if (child_count > r.remaining() / 9) return false;
  p.children.resize(static_cast<std::size_t>(child_count));
  for (part& child : p.children) {
    if (!read_part(r, child, depth + 1)) return false;
  }
  return r.ok();
}

}  // namespace

std::string message_structure::encode() const {
  writer w;
  w.put_byte(k_format_version);
  w.put_string(envelope);
  w.put_string(bodystructure);
  w.put_string(body);
  write_part(w, root);
  w.put_varint(headers.size());
  for (const auto& [name, value] : headers) {
    w.put_string(name);
    w.put_string(value);
  }
  w.put_string(text);
  w.put_u32_le(fnv1a32(w.bytes()));
  return std::move(w.bytes());
}

std::optional<message_structure> message_structure::decode(std::string_view bytes) {
  if (bytes.size() < 1 + k_checksum_size) return std::nullopt;
  std::string_view payload = bytes.substr(0, bytes.size() - k_checksum_size);
  std::uint32_t stored = 0;
  for (std::size_t i = 0; i < k_checksum_size; ++i) {
    stored |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[payload.size() + i]))
              << (8 * i);
  }
  if (stored != fnv1a32(payload)) return std::nullopt;

  reader r(payload);
  if (r.get_byte() != k_format_version) return std::nullopt;
  message_structure s;
  s.envelope = r.get_string();
  s.bodystructure = r.get_string();
  s.body = r.get_string();
  if (!r.ok() || !read_part(r, s.root, 0)) return std::nullopt;
  std::uint64_t header_count = r.get_varint();
  // Each header takes at least 2 bytes (two empty strings).
  if (!r.ok() || header_count > r.remaining() / 2) return std::nullopt;
  s.headers.reserve(static_cast<std::size_t>(header_count));
  for (std::uint64_t i = 0; i < header_count; ++i) {
    std::string name = r.get_string();
    std::string value = r.get_string();
    s.headers.emplace_back(std::move(name), std::move(value));
  }
  s.text = r.get_string();
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return s;
}

}  // namespace packmail::storage::mime
