#include "keys.h"

#include <cstring>

namespace packmail::storage::segment {

void put_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }
void put_u16(std::string& out, std::uint16_t v) {
  put_u8(out, static_cast<std::uint8_t>(v >> 8));
  put_u8(out, static_cast<std::uint8_t>(v));
}
void put_u32(std::string& out, std::uint32_t v) {
  put_u16(out, static_cast<std::uint16_t>(v >> 16));
  put_u16(out, static_cast<std::uint16_t>(v));
}
void put_u64(std::string& out, std::uint64_t v) {
  put_u32(out, static_cast<std::uint32_t>(v >> 32));
  put_u32(out, static_cast<std::uint32_t>(v));
}

std::uint32_t get_u32(std::string_view in) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(in[i]);
  return v;
}
std::uint64_t get_u64(std::string_view in) {
  return (std::uint64_t{get_u32(in)} << 32) | get_u32(in.substr(4));
}

std::string_view reader::bytes(std::size_t n) {
  if (!ok_ || in_.size() < n) {
    ok_ = false;
    return {};
  }
  auto out = in_.substr(0, n);
  in_.remove_prefix(n);
  return out;
}
std::string_view reader::rest() { return bytes(in_.size()); }
std::uint8_t reader::u8() {
  auto b = bytes(1);
  return b.empty() ? 0 : static_cast<std::uint8_t>(b[0]);
}
std::uint16_t reader::u16() {
  std::uint16_t hi = u8();
  return static_cast<std::uint16_t>((hi << 8) | u8());
}
std::uint32_t reader::u32() {
  auto b = bytes(4);
  return b.size() == 4 ? get_u32(b) : 0;
}
std::uint64_t reader::u64() {
  auto b = bytes(8);
  return b.size() == 8 ? get_u64(b) : 0;
}

namespace {
constexpr std::uint8_t k_record_version = 1;

std::string tagged(char tag, std::uint64_t id) {
  std::string k(1, tag);
  put_u64(k, id);
  return k;
}
}  // namespace

std::string user_name_key(std::string_view lower_name) {
  std::string k(1, k_user_name_tag);
  k += lower_name;
  return k;
}
std::string user_key(user_id id) { return tagged(k_user_tag, id); }
std::string subscription_prefix(user_id id) { return tagged('S', id); }
std::string subscription_key(user_id id, std::string_view name) {
  return subscription_prefix(id) + std::string(name);
}

std::string encode(const user_record& r) {
  std::string v;
  put_u8(v, k_record_version);
  put_u8(v, r.state);
  put_u64(v, r.quota);
  put_u32(v, r.last_uidvalidity);
  v += r.name;
  return v;
}
std::optional<user_record> decode_user(std::string_view v) {
  reader in(v);
  if (in.u8() != k_record_version) return std::nullopt;
  user_record r;
  r.state = in.u8();
  r.quota = in.u64();
  r.last_uidvalidity = in.u32();
  r.name = std::string(in.rest());
  if (!in.ok()) return std::nullopt;
  return r;
}

std::string mailbox_name_prefix(user_id owner) { return tagged('N', owner); }
std::string mailbox_name_key(user_id owner, std::string_view name) {
  return mailbox_name_prefix(owner) + std::string(name);
}
std::string mailbox_key(mailbox_id id) { return tagged(k_mailbox_tag, id); }

std::string encode(const mailbox_record& r) {
  std::string v;
  v.reserve(64 + r.name.size());
  put_u8(v, k_record_version);
  put_u64(v, r.owner);
  put_u32(v, r.uidvalidity);
  put_u32(v, r.uidnext);
  put_u16(v, r.uid_epoch);
  put_u64(v, r.highest_modseq);
  put_u32(v, r.messages);
  put_u32(v, r.unseen);
  put_u32(v, r.deleted);
  put_u64(v, r.bytes);
  put_u8(v, r.special_use);
  put_u64(v, r.chg_floor);
  v += r.name;
  return v;
}
std::optional<mailbox_record> decode_mailbox(std::string_view v) {
  reader in(v);
  if (in.u8() != k_record_version) return std::nullopt;
  mailbox_record r;
  r.owner = in.u64();
  r.uidvalidity = in.u32();
  r.uidnext = in.u32();
  r.uid_epoch = in.u16();
  r.highest_modseq = in.u64();
  r.messages = in.u32();
  r.unseen = in.u32();
  r.deleted = in.u32();
  r.bytes = in.u64();
  r.special_use = in.u8();
  r.chg_floor = in.u64();
  r.name = std::string(in.rest());
  if (!in.ok()) return std::nullopt;
  return r;
}

std::string mailbox_prefix(mailbox_id mailbox) {
  std::string k;
  put_u64(k, mailbox);
  return k;
}
std::string index_key(mailbox_id mailbox, imap_uid uid) {
  std::string k;
  k.reserve(12);
  put_u64(k, mailbox);
  put_u32(k, uid);
  return k;
}
imap_uid index_key_uid(std::string_view key) { return get_u32(key.substr(8)); }

std::string encode(const index_entry& e) {
  std::string v;
  v.reserve(48 + e.prefix.size());
  put_u8(v, k_record_version);
  v.append(reinterpret_cast<const char*>(e.body.data()), e.body.size());
  put_u64(v, e.modseq);
  put_u64(v, static_cast<std::uint64_t>(e.internal_date));
  put_u16(v, static_cast<std::uint16_t>(e.tz_offset));
  put_u32(v, e.size);
  put_u8(v, e.flags);
  put_u32(v, static_cast<std::uint32_t>(e.prefix.size()));
  v += e.prefix;
  put_u16(v, static_cast<std::uint16_t>(e.keywords.size()));
  for (const auto& k : e.keywords) {
    put_u16(v, static_cast<std::uint16_t>(k.size()));
    v += k;
  }
  return v;
}
std::optional<index_entry> decode_index(std::string_view v) {
  reader in(v);
  if (in.u8() != k_record_version) return std::nullopt;
  index_entry e;
  auto body = in.bytes(16);
  if (body.size() == 16) std::memcpy(e.body.data(), body.data(), 16);
  e.modseq = in.u64();
  e.internal_date = static_cast<std::int64_t>(in.u64());
  e.tz_offset = static_cast<std::int16_t>(in.u16());
  e.size = in.u32();
  e.flags = in.u8();
  e.prefix = std::string(in.bytes(in.u32()));
  std::uint16_t n = in.u16();
  for (std::uint16_t i = 0; i < n && in.ok(); ++i) e.keywords.emplace_back(in.bytes(in.u16()));
  if (!in.ok() || !in.at_end()) return std::nullopt;
  return e;
}

std::string change_key(mailbox_id mailbox, modseq_t modseq, imap_uid uid) {
  std::string k;
  k.reserve(20);
  put_u64(k, mailbox);
  put_u64(k, modseq);
  put_u32(k, uid);
  return k;
}

std::string body_key(const body_id& id) {
  return std::string(reinterpret_cast<const char*>(id.data()), id.size());
}
std::string cache_key(const body_id& id) { return body_key(id) + 'S'; }

std::string encode(const ref_record& r) {
  std::string v;
  put_u32(v, r.refcount);
  put_u64(v, r.raw_len);
  return v;
}
std::optional<ref_record> decode_ref(std::string_view v) {
  reader in(v);
  ref_record r;
  r.refcount = in.u32();
  r.raw_len = in.u64();
  if (!in.ok() || !in.at_end()) return std::nullopt;
  return r;
}

body_id make_body_id(std::uint16_t epoch, std::uint64_t unix_ms, std::uint64_t counter) {
  std::string k;
  put_u16(k, epoch);
  put_u16(k, static_cast<std::uint16_t>(unix_ms >> 32));
  put_u32(k, static_cast<std::uint32_t>(unix_ms));
  put_u64(k, counter);
  body_id id{};
  std::memcpy(id.data(), k.data(), 16);
  return id;
}
std::uint64_t body_id_ms(const body_id& id) {
  std::string_view s(reinterpret_cast<const char*>(id.data()), 16);
  return get_u64(s) & ((std::uint64_t{1} << 48) - 1);
}
std::uint64_t body_id_counter(const body_id& id) {
  return get_u64(std::string_view(reinterpret_cast<const char*>(id.data()) + 8, 8));
}

}  // namespace packmail::storage::segment
