// The mail store interface: everything IMAP, POP3, LMTP and the admin console
// need from storage. Backends (segment = RocksDB, memory) implement it; one
// contract suite (tests/unit/storage/contract/) runs against each.
//
// Thread-safety: every method of mail_store may be called concurrently from
// any thread. Results are snapshots; use watch() and changes_since() to follow
// a mailbox.
//
// Names: mailbox names are UTF-8 with '/' as the hierarchy separator. "INBOX"
// is matched case-insensitively and always reported as "INBOX". User names are
// matched case-insensitively (stored lower case).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "packmail/storage/mime.h"
#include "packmail/storage/status.h"

namespace packmail::storage {

using user_id = std::uint64_t;
using mailbox_id = std::uint64_t;
using imap_uid = std::uint32_t;
using modseq_t = std::uint64_t;
// Identity of a stored body: epoch u16 | unix_ms u48 | counter u64, big-endian
// (time-ordered). Shared by every mailbox entry that references the body.
using body_id = std::array<std::uint8_t, 16>;

// System flags as bits. \Recent is per session, not stored.
enum flag : std::uint8_t {
  flag_seen = 1,
  flag_answered = 2,
  flag_flagged = 4,
  flag_deleted = 8,
  flag_draft = 16,
};
constexpr std::uint8_t k_all_flags = 31;

// RFC 6154 special-use attributes as bits.
enum special_use : std::uint8_t {
  use_all = 1,
  use_archive = 2,
  use_drafts = 4,
  use_flagged = 8,
  use_junk = 16,
  use_sent = 32,
  use_trash = 64,
};

struct mailbox_info {
  mailbox_id id = 0;
  user_id owner = 0;
  std::string name;  // UTF-8, '/' separated; "INBOX" canonical
  std::uint32_t uidvalidity = 0;
  imap_uid uidnext = 1;
  modseq_t highest_modseq = 0;
  std::uint32_t messages = 0;
  std::uint32_t unseen = 0;   // messages without \Seen
  std::uint32_t deleted = 0;  // messages with \Deleted
  std::uint64_t bytes = 0;    // sum of message sizes
  std::uint8_t special_use = 0;
};

struct message_info {
  imap_uid uid = 0;
  modseq_t modseq = 0;
  std::int64_t internal_date = 0;     // seconds since the epoch, UTC
  std::int16_t tz_offset = 0;         // minutes east of UTC, for INTERNALDATE
  std::uint32_t size = 0;             // RFC822.SIZE, the per-recipient prefix included
  std::uint8_t flags = 0;             // flag bits
  std::vector<std::string> keywords;  // sorted; unique ignoring case; case preserved
  body_id body{};
  std::uint32_t prefix_size = 0;  // bytes of per-recipient header before the body
};

// One destination of an append.
struct append_target {
  mailbox_id mailbox = 0;
  std::uint8_t flags = 0;
  std::vector<std::string> keywords;
  // Per-recipient header lines (e.g. "Return-Path: <a@b>\r\nDelivered-To: c@d\r\n")
  // prepended to this copy when read; the shared body is stored once.
  std::string prefix;
};

struct append_request {
  std::string_view message;        // raw RFC 5322 bytes, stored as given
  std::int64_t internal_date = 0;  // 0 = now
  std::int16_t tz_offset = 0;
  std::vector<append_target> targets;  // at least one; all or none are stored
};

struct appended {
  mailbox_id mailbox = 0;
  std::uint32_t uidvalidity = 0;
  imap_uid uid = 0;
  modseq_t modseq = 0;
};

struct copy_result {
  std::uint32_t uidvalidity = 0;  // of the destination
  // (source UID, destination UID) for each message copied, in source UID order.
  std::vector<std::pair<imap_uid, imap_uid>> uids;
};

enum class flag_op : std::uint8_t { add, remove, replace };

struct flag_change {
  flag_op op = flag_op::add;
  std::uint8_t flags = 0;
  std::vector<std::string> keywords;
  // RFC 7162 UNCHANGEDSINCE: messages whose modseq is greater are not changed
  // and are reported in flag_result::modified.
  std::optional<modseq_t> unchanged_since;
};

struct flag_result {
  // The messages whose flags changed, with their new state and modseq (one
  // modseq shared by the whole call). Messages already in the wanted state are
  // not listed and get no new modseq.
  std::vector<message_info> changed;
  std::vector<imap_uid> modified;  // refused by UNCHANGEDSINCE
};

enum class change_kind : std::uint8_t { append = 1, flags = 2, expunge = 3 };

struct change {
  modseq_t modseq = 0;
  change_kind kind = change_kind::append;
  imap_uid uid = 0;
};

// Live handle for a watch; the callback is not called after the handle is
// destroyed (destruction waits for a callback running on another thread).
class watch_handle {
 public:
  virtual ~watch_handle() = default;
};

// Called after a change to the mailbox is committed, with the mailbox's new
// highest modseq. It runs on the committing thread with no store lock held;
// it must be quick (post to an executor) and may call the store.
using change_callback = std::function<void(mailbox_id, modseq_t highest_modseq)>;

struct store_stats {
  std::uint64_t users = 0;
  std::uint64_t mailboxes = 0;
  std::uint64_t messages = 0;  // mailbox entries
  std::uint64_t bodies = 0;    // distinct stored bodies
  std::uint64_t bytes = 0;     // sum of distinct body sizes
};

class mail_store {
 public:
  virtual ~mail_store() = default;

  // --- users -------------------------------------------------------------
  // Returns the user's id, creating the user (with INBOX and the special-use
  // mailboxes Drafts, Sent, Trash, Junk, Archive) on first use.
  virtual result<user_id> ensure_user(std::string_view name) = 0;
  // not_found when the user was never created.
  virtual result<user_id> find_user(std::string_view name) = 0;
  virtual result<std::vector<std::string>> list_users() = 0;

  // --- the mailbox tree ---------------------------------------------------
  // All mailboxes of the user, sorted by name.
  virtual result<std::vector<mailbox_info>> list_mailboxes(user_id user) = 0;
  virtual result<mailbox_info> get_mailbox(user_id user, std::string_view name) = 0;
  virtual result<mailbox_info> get_mailbox(mailbox_id mailbox) = 0;
  // exists when the name is taken; invalid_argument for an empty name, a name
  // with empty levels ("a//b"), or a leading/trailing '/'. Parents are not
  // created. UIDVALIDITY is max(now, the user's last UIDVALIDITY + 1).
  // special_use bits other than those of enum special_use are dropped (here
  // and in set_special_use).
  virtual result<mailbox_info> create_mailbox(user_id user, std::string_view name,
                                              std::uint8_t special_use = 0) = 0;
  // Deletes the mailbox and its messages (not its children). INBOX:
  // invalid_argument.
  virtual status delete_mailbox(user_id user, std::string_view name) = 0;
  // Renames the mailbox and every child ("a" -> "b" also moves "a/x" to
  // "b/x"); ids and UIDVALIDITY are kept. RFC 3501 6.3.5: renaming INBOX moves
  // all its messages into a new mailbox of the new name and leaves INBOX empty.
  // exists when `to` is `from` or is taken; invalid_argument when `to` is
  // inside `from` ("a" -> "a/b").
  virtual status rename_mailbox(user_id user, std::string_view from, std::string_view to) = 0;
  virtual status set_special_use(user_id user, std::string_view name, std::uint8_t uses) = 0;
  // Subscriptions are names; they may name mailboxes that do not exist.
  virtual status set_subscribed(user_id user, std::string_view name, bool subscribed) = 0;
  virtual result<std::vector<std::string>> list_subscriptions(user_id user) = 0;

  // --- messages ----------------------------------------------------------
  // Stores the message once and adds it to every target in one atomic,
  // durable commit. try_create when a target mailbox does not exist;
  // over_quota when a target's UID space is used up (as for copy).
  virtual result<std::vector<appended>> append(const append_request& request) = 0;
  // Every message of the mailbox in ascending UID order.
  virtual result<std::vector<message_info>> list_messages(mailbox_id mailbox) = 0;
  // expunged / not_found when the UID is not (or no longer) in the mailbox.
  virtual result<message_info> get_message(mailbox_id mailbox, imap_uid uid) = 0;
  // The message's bytes (prefix included) from offset, at most length bytes.
  // The body checksum is verified: corrupt on mismatch, never wrong bytes.
  virtual result<std::string> read_message(
      mailbox_id mailbox, imap_uid uid, std::uint64_t offset = 0,
      std::uint64_t length = std::numeric_limits<std::uint64_t>::max()) = 0;
  // The structure parsed at delivery (offsets relative to the body, i.e.
  // without the prefix: add message_info::prefix_size).
  virtual result<mime::message_structure> read_structure(mailbox_id mailbox, imap_uid uid) = 0;
  // Copies (or moves) the listed UIDs that exist, in ascending order, without
  // copying bodies. Flags and keywords are kept; moved messages are expunged
  // from the source in the same commit. try_create when `to` does not exist.
  virtual result<copy_result> copy(mailbox_id from, std::span<const imap_uid> uids, mailbox_id to,
                                   bool move) = 0;
  // Keywords are case-insensitive (RFC 3501 2.3.2): "$Junk" and "$junk" are
  // one keyword. A message keeps the spelling it was first given (on append or
  // add); remove matches any spelling; replace stores the spellings given.
  virtual result<flag_result> store_flags(mailbox_id mailbox, std::span<const imap_uid> uids,
                                          const flag_change& change) = 0;
  // Expunges the listed UIDs that exist; returns those expunged, ascending.
  // Bodies are freed when their last reference goes.
  virtual result<std::vector<imap_uid>> expunge(mailbox_id mailbox,
                                                std::span<const imap_uid> uids) = 0;

  // --- following changes -------------------------------------------------
  // Changes with modseq > since, in modseq order. A mailbox keeps its full
  // journal in this version.
  virtual result<std::vector<change>> changes_since(mailbox_id mailbox, modseq_t since) = 0;
  virtual std::unique_ptr<watch_handle> watch(mailbox_id mailbox, change_callback callback) = 0;

  virtual result<store_stats> stats() = 0;
};

// The segment backend: one RocksDB database per shard.
struct segment_options {
  std::filesystem::path path;  // created if missing
  // Sync the WAL before acknowledging a mutation. Default: true. Tests may
  // turn it off; a process crash then still loses nothing acknowledged, a
  // machine crash may.
  bool sync = true;
  // Bodies at least this large go to RocksDB blob files. Default: 16 KiB.
  std::uint64_t min_blob_size = 16 * 1024;
  // Block cache for all column families. Default: 64 MiB.
  std::uint64_t block_cache_bytes = 64ull << 20;
  // Obsolete WAL files kept in archive/ so that a mirror can catch up with
  // GetUpdatesSince (STORAGE-REPLICATION.md section 3): kept while younger
  // than wal_archive_seconds and while the archive is under wal_archive_mb
  // (checked every 10 minutes). Default: 0 and 0, keep none (no mirror
  // configured); size them for 48-72 h of ingest when replication is on.
  std::uint64_t wal_archive_seconds = 0;
  std::uint64_t wal_archive_mb = 0;
};

result<std::unique_ptr<mail_store>> open_segment_store(const segment_options& options);
std::unique_ptr<mail_store> open_memory_store();

}  // namespace packmail::storage
