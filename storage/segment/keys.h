// Key and value encoding of the segment backend, format version 1
// (docs/storage-format.md is the specification; keep both in step).
// Integers are big-endian and fixed width so that byte order is numeric order
// and every per-mailbox scan is a prefix scan.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "packmail/storage/store.h"

namespace packmail::storage::segment {

// The on-disk format this build writes and understands. Opening a database
// stamped with a newer version fails (never guess at a newer layout).
constexpr std::uint32_t k_format_version = 1;

// Column family names, created together with the database.
inline constexpr const char* k_cf_names[] = {"meta", "user", "mbox", "idx",
                                             "chg",  "body", "ref",  "cache"};
enum cf_index : int { cf_meta, cf_user, cf_mbox, cf_idx, cf_chg, cf_body, cf_ref, cf_cache };
constexpr int k_cf_count = 8;

// --- primitive encoding -----------------------------------------------------
void put_u8(std::string& out, std::uint8_t v);
void put_u16(std::string& out, std::uint16_t v);
void put_u32(std::string& out, std::uint32_t v);
void put_u64(std::string& out, std::uint64_t v);

// Bounds-checked big-endian reader. After any short read ok() is false and all
// further reads return 0 / empty: callers decode, then check ok() once.
class reader {
 public:
  explicit reader(std::string_view in) : in_(in) {}
  std::uint8_t u8();
  std::uint16_t u16();
  std::uint32_t u32();
  std::uint64_t u64();
  std::string_view bytes(std::size_t n);
  std::string_view rest();
  bool ok() const { return ok_; }
  bool at_end() const { return in_.empty(); }

 private:
  std::string_view in_;
  bool ok_ = true;
};

std::uint64_t get_u64(std::string_view in);  // first 8 bytes; in.size() >= 8
std::uint32_t get_u32(std::string_view in);  // first 4 bytes; in.size() >= 4

// --- meta CF ----------------------------------------------------------------
inline constexpr std::string_view k_meta_schema = "schema";           // u32
inline constexpr std::string_view k_meta_epoch = "epoch";             // u16
inline constexpr std::string_view k_meta_next_user = "next_user";     // u64
inline constexpr std::string_view k_meta_next_mailbox = "next_mbox";  // u64
// "eh" epoch u16 -> u64: the first sequence written in that epoch (section 5).
inline constexpr std::string_view k_meta_epoch_start = "eh";

// --- user CF ----------------------------------------------------------------
std::string user_name_key(std::string_view lower_name);           // 'N' name -> u64 user_id
std::string user_key(user_id id);                                 // 'U' id -> user_record
std::string subscription_key(user_id id, std::string_view name);  // 'S' id name -> ""
std::string subscription_prefix(user_id id);
constexpr char k_user_name_tag = 'N';
constexpr char k_user_tag = 'U';

struct user_record {
  std::string name;  // lower case
  std::uint8_t state = 0;
  std::uint64_t quota = 0;  // bytes, 0 = none
  std::uint32_t last_uidvalidity = 0;
  bool operator==(const user_record&) const = default;
};
std::string encode(const user_record& r);
std::optional<user_record> decode_user(std::string_view v);

// --- mbox CF ----------------------------------------------------------------
std::string mailbox_name_key(user_id owner, std::string_view name);  // 'N' -> u64 mailbox_id
std::string mailbox_name_prefix(user_id owner);
std::string mailbox_key(mailbox_id id);  // 'M' id -> mailbox_record
constexpr char k_mailbox_tag = 'M';

struct mailbox_record {
  user_id owner = 0;
  std::string name;
  std::uint32_t uidvalidity = 0;
  imap_uid uidnext = 1;
  std::uint16_t uid_epoch = 0;  // epoch of the last UID allocation
  modseq_t highest_modseq = 0;
  std::uint32_t messages = 0;
  std::uint32_t unseen = 0;
  std::uint32_t deleted = 0;
  std::uint64_t bytes = 0;
  std::uint8_t special_use = 0;
  modseq_t chg_floor = 0;  // journal entries below are trimmed
  bool operator==(const mailbox_record&) const = default;
};
std::string encode(const mailbox_record& r);
std::optional<mailbox_record> decode_mailbox(std::string_view v);

// --- idx CF: mailbox_id u64 | uid u32 -> index_entry --------------------------
std::string index_key(mailbox_id mailbox, imap_uid uid);
std::string mailbox_prefix(mailbox_id mailbox);  // 8 bytes, the idx/chg prefix
imap_uid index_key_uid(std::string_view key);

struct index_entry {
  body_id body{};
  modseq_t modseq = 0;
  std::int64_t internal_date = 0;
  std::int16_t tz_offset = 0;
  std::uint32_t size = 0;  // RFC822.SIZE, prefix included
  std::uint8_t flags = 0;
  std::string prefix;                 // per-recipient header lines
  std::vector<std::string> keywords;  // sorted, unique
  bool operator==(const index_entry&) const = default;
};
std::string encode(const index_entry& e);
std::optional<index_entry> decode_index(std::string_view v);

// --- chg CF: mailbox_id u64 | modseq u64 | uid u32 -> kind u8 ----------------
std::string change_key(mailbox_id mailbox, modseq_t modseq, imap_uid uid);

// --- body, ref, cache CFs: keyed by the 16-byte body id ------------------------
std::string body_key(const body_id& id);
std::string cache_key(const body_id& id);  // body id | 'S' -> message_structure::encode()

struct ref_record {
  std::uint32_t refcount = 0;
  std::uint64_t raw_len = 0;  // body bytes, for stats
  bool operator==(const ref_record&) const = default;
};
std::string encode(const ref_record& r);
std::optional<ref_record> decode_ref(std::string_view v);

// body id = epoch u16 | unix_ms u48 | counter u64
body_id make_body_id(std::uint16_t epoch, std::uint64_t unix_ms, std::uint64_t counter);
std::uint64_t body_id_ms(const body_id& id);
std::uint64_t body_id_counter(const body_id& id);

// MODSEQ = (epoch << 40) | counter (STORAGE-REPLICATION.md section 5).
constexpr int k_modseq_epoch_shift = 40;

}  // namespace packmail::storage::segment
