#include "segment_store.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <rocksdb/iterator.h>
#include <spdlog/spdlog.h>

#include "../common/mailbox_rules.h"
#include "body_codec.h"
#include "options.h"

namespace packmail::storage::segment {
namespace {

// A mailbox's first UID under a new epoch skips this many, so UIDs handed out
// by a failed primary but never acknowledged are not reused (section 5).
constexpr imap_uid k_uid_epoch_gap = 1000;

using detail::ascii_lower;
using detail::canonical_name;
using detail::k_inbox;
using detail::valid_name;

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

status corrupt(std::string message) {
  spdlog::error("storage: {}", message);
  return status(errc::corrupt, std::move(message));
}

message_info to_message_info(imap_uid uid, const index_entry& e) {
  message_info m;
  m.uid = uid;
  m.modseq = e.modseq;
  m.internal_date = e.internal_date;
  m.tz_offset = e.tz_offset;
  m.size = e.size;
  m.flags = e.flags;
  m.keywords = e.keywords;
  m.body = e.body;
  m.prefix_size = static_cast<std::uint32_t>(e.prefix.size());
  return m;
}

status check_keywords(const std::vector<std::string>& keywords) {
  for (const auto& k : keywords) {
    if (k.size() > 0xFFFF) return status(errc::invalid_argument, "keyword too long");
  }
  return {};
}

void count_add(mailbox_record& r, const index_entry& e) {
  ++r.messages;
  if (!(e.flags & flag_seen)) ++r.unseen;
  if (e.flags & flag_deleted) ++r.deleted;
  r.bytes += e.size;
}

void count_remove(mailbox_record& r, const index_entry& e) {
  if (r.messages > 0) --r.messages;
  if (!(e.flags & flag_seen) && r.unseen > 0) --r.unseen;
  if ((e.flags & flag_deleted) && r.deleted > 0) --r.deleted;
  r.bytes -= std::min<std::uint64_t>(r.bytes, e.size);
}

// An iterator over one mailbox's keys in the idx or chg CF.
class prefix_scan {
 public:
  prefix_scan(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, mailbox_id mailbox)
      : upper_(mailbox_prefix(mailbox + 1)), upper_slice_(upper_) {
    rocksdb::ReadOptions ro;
    ro.prefix_same_as_start = true;
    ro.iterate_upper_bound = &upper_slice_;
    it_.reset(db->NewIterator(ro, cf));
  }
  rocksdb::Iterator* operator->() { return it_.get(); }

 private:
  std::string upper_;
  rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

std::vector<std::unique_lock<std::mutex>> lock_in_order(std::vector<std::mutex*> mutexes) {
  std::sort(mutexes.begin(), mutexes.end());
  mutexes.erase(std::unique(mutexes.begin(), mutexes.end()), mutexes.end());
  std::vector<std::unique_lock<std::mutex>> locks;
  for (auto* m : mutexes) locks.emplace_back(*m);
  return locks;
}

}  // namespace

// --- open / close --------------------------------------------------------------

segment_store::segment_store(const segment_options& options) : options_(options) {}

segment_store::~segment_store() {
  if (db_) {
    // Flushing makes every WAL file obsolete: the next open replays nothing,
    // and a closed shard is only SST and blob files (what a bulk copy moves).
    rocksdb::FlushOptions flush;
    flush.allow_write_stall = true;
    if (auto s = db_->Flush(flush, handles_); !s.ok()) {
      spdlog::warn("storage: flushing {} at close: {}", options_.path.string(), s.ToString());
    }
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    handles_.clear();
    auto s = db_->Close();
    if (!s.ok()) spdlog::error("storage: closing {}: {}", options_.path.string(), s.ToString());
  }
}

result<std::unique_ptr<mail_store>> segment_store::open(const segment_options& options) {
  std::unique_ptr<segment_store> store(new segment_store(options));
  if (auto s = store->init(); !s.ok()) return s;
  return std::unique_ptr<mail_store>(std::move(store));
}

status segment_store::init() {
  std::error_code ec;
  std::filesystem::create_directories(options_.path, ec);
  if (ec) {
    return status(errc::internal,
                  fmt::format("cannot create {}: {}", options_.path.string(), ec.message()));
  }
  auto db_options = make_db_options(options_);
  auto descriptors = make_cf_descriptors(options_);
  const std::string path = options_.path.string();

  std::vector<std::string> existing;
  bool is_new = !rocksdb::DB::ListColumnFamilies(db_options, path, &existing).ok();
  if (!is_new) {
    // Column families are created only with the database: a CF create is a
    // MANIFEST edit that WAL replication would not carry to a mirror.
    for (const auto& d : descriptors) {
      if (std::find(existing.begin(), existing.end(), d.name) == existing.end()) {
        return status(errc::corrupt, fmt::format("{}: column family \"{}\" is missing; not a "
                                                 "packmail segment store or damaged",
                                                 path, d.name));
      }
    }
    db_options.create_missing_column_families = false;
  }
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(db_options, path, descriptors, &handles_, &raw);
  if (!s.ok()) return from_rocks(s, fmt::format("opening {}", path));
  db_.reset(raw);

  rocksdb::ReadOptions ro;
  std::string value;
  s = db_->Get(ro, cf(cf_meta), k_meta_schema, &value);
  if (s.IsNotFound()) {
    // Only a database that never held data may be stamped now (a crash
    // between creating the CFs and the first commit leaves one like that).
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(cf_user)));
    it->SeekToFirst();
    if (it->Valid()) {
      return status(errc::corrupt, fmt::format("{}: holds users but no schema version", path));
    }
    rocksdb::WriteBatch batch;
    std::string v;
    put_u32(v, k_format_version);
    batch.Put(cf(cf_meta), k_meta_schema, v);
    v.clear();
    put_u16(v, epoch_);
    batch.Put(cf(cf_meta), k_meta_epoch, v);
    if (auto st = commit(batch); !st.ok()) return st;
  } else if (!s.ok()) {
    return from_rocks(s, "reading the schema version");
  } else {
    if (value.size() != 4) return status(errc::corrupt, "malformed schema version record");
    std::uint32_t version = get_u32(value);
    if (version > k_format_version) {
      return status(errc::invalid_argument,
                    fmt::format("{}: data format version {} is newer than this packmail ({})", path,
                                version, k_format_version));
    }
    if (version < k_format_version) {
      return status(errc::invalid_argument,
                    fmt::format("{}: data format version {} is not supported (this packmail "
                                "reads version {})",
                                path, version, k_format_version));
    }
    s = db_->Get(ro, cf(cf_meta), k_meta_epoch, &value);
    if (!s.ok() || value.size() != 2) return status(errc::corrupt, "missing or malformed epoch");
    epoch_ = static_cast<std::uint16_t>((std::uint8_t(value[0]) << 8) | std::uint8_t(value[1]));
  }
  for (auto [key, counter] :
       {std::pair{k_meta_next_user, &next_user_}, std::pair{k_meta_next_mailbox, &next_mailbox_}}) {
    s = db_->Get(ro, cf(cf_meta), key, &value);
    if (s.ok() && value.size() == 8) {
      *counter = get_u64(value);
    } else if (!s.IsNotFound()) {
      return status(errc::corrupt, fmt::format("malformed counter {}", key));
    }
  }

  // Body ids must never repeat, even after bodies were freed: start above the
  // newest stored id and above a value derived from the clock (2^20 ids per
  // millisecond between restarts), and never move the time part backwards.
  std::uint64_t counter = now_ms() << 20;
  std::uint64_t last_ms = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(cf_body)));
  it->SeekToLast();
  if (it->Valid() && it->key().size() == 16) {
    body_id last{};
    std::memcpy(last.data(), it->key().data(), 16);
    counter = std::max(counter, body_id_counter(last) + 1);
    last_ms = body_id_ms(last);
  }
  if (!it->status().ok()) {
    // A damaged block must not keep the whole shard offline: the clock-derived
    // counter alone still keeps new ids unique; the scrub reports the damage.
    spdlog::error(
        "storage: {}: cannot read the newest body id ({}); continuing with a "
        "clock-derived id counter",
        path, it->status().ToString());
  }
  body_counter_ = counter;
  body_last_ms_ = last_ms;
  spdlog::info("storage: opened segment store {} (format {}, epoch {})", path, k_format_version,
               epoch_);
  return {};
}

status segment_store::commit(rocksdb::WriteBatch& batch) {
  // WAL-only stamp {epoch, commit_ms} for the replication stream (section 5).
  std::string stamp;
  put_u16(stamp, epoch_);
  put_u64(stamp, now_ms());
  batch.PutLogData(stamp);
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  wo.protection_bytes_per_key = 8;  // section 6: per-key checksums in the write path
  auto s = db_->Write(wo, &batch);
  if (!s.ok()) return from_rocks(s, "commit");
  return {};
}

// --- helpers ---------------------------------------------------------------------

body_id segment_store::next_body_id() {
  std::uint64_t ms = now_ms();
  std::uint64_t last = body_last_ms_.load();
  while (ms > last && !body_last_ms_.compare_exchange_weak(last, ms)) {
  }
  ms = std::max(ms, last);
  return make_body_id(epoch_, ms, body_counter_.fetch_add(1));
}

modseq_t segment_store::next_modseq(mailbox_record& r) const {
  modseq_t base = modseq_t{epoch_} << k_modseq_epoch_shift;
  r.highest_modseq =
      (r.highest_modseq >> k_modseq_epoch_shift) == epoch_ ? r.highest_modseq + 1 : base + 1;
  return r.highest_modseq;
}

result<imap_uid> segment_store::next_uid(mailbox_record& r) const {
  if (r.uid_epoch != epoch_) {
    if (r.uidnext > 1) r.uidnext += k_uid_epoch_gap;
    r.uid_epoch = epoch_;
  }
  if (!detail::uids_available(r.uidnext, 1)) return detail::uid_space_exhausted(r.name);
  return r.uidnext++;
}

mailbox_info segment_store::to_info(mailbox_id id, const mailbox_record& r) const {
  mailbox_info i;
  i.id = id;
  i.owner = r.owner;
  i.name = r.name;
  i.uidvalidity = r.uidvalidity;
  i.uidnext = r.uidnext;
  i.highest_modseq = r.highest_modseq;
  i.messages = r.messages;
  i.unseen = r.unseen;
  i.deleted = r.deleted;
  i.bytes = r.bytes;
  i.special_use = r.special_use;
  return i;
}

result<segment_store::state_ptr> segment_store::get_state(mailbox_id id) {
  {
    std::shared_lock lock(states_mutex_);
    if (auto it = states_.find(id); it != states_.end()) return it->second;
  }
  std::unique_lock lock(states_mutex_);
  if (auto it = states_.find(id); it != states_.end()) return it->second;
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), cf(cf_mbox), mailbox_key(id), &value);
  if (s.IsNotFound()) return status(errc::not_found, fmt::format("no mailbox with id {}", id));
  if (!s.ok()) return from_rocks(s, "reading a mailbox record");
  auto record = decode_mailbox(value);
  if (!record) return corrupt(fmt::format("mailbox {}: malformed mailbox record", id));
  auto state = std::make_shared<mailbox_state>();
  state->id = id;
  state->record = std::move(*record);
  states_.emplace(id, state);
  return state;
}

result<segment_store::state_ptr> segment_store::find_mailbox_locked(user_id user,
                                                                    const std::string& name) {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), cf(cf_mbox), mailbox_name_key(user, name), &value);
  if (s.IsNotFound()) return status(errc::not_found, fmt::format("no mailbox \"{}\"", name));
  if (!s.ok()) return from_rocks(s, "reading the mailbox name index");
  if (value.size() != 8) return corrupt(fmt::format("mailbox \"{}\": malformed name entry", name));
  return get_state(get_u64(value));
}

result<user_record> segment_store::read_user(user_id user) {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), cf(cf_user), user_key(user), &value);
  if (s.IsNotFound()) return status(errc::not_found, fmt::format("no user with id {}", user));
  if (!s.ok()) return from_rocks(s, "reading a user record");
  auto r = decode_user(value);
  if (!r) return corrupt(fmt::format("user {}: malformed user record", user));
  return *r;
}

mailbox_record segment_store::new_mailbox_record(user_id owner, std::string name, std::uint8_t uses,
                                                 user_record& user) {
  mailbox_record r;
  r.owner = owner;
  r.name = std::move(name);
  // Section 7: re-creating a name must raise UIDVALIDITY.
  r.uidvalidity = detail::next_uidvalidity(user.last_uidvalidity);
  user.last_uidvalidity = r.uidvalidity;
  r.uid_epoch = epoch_;
  r.highest_modseq = modseq_t{epoch_} << k_modseq_epoch_shift;
  r.special_use = uses & detail::k_all_special_uses;
  return r;
}

result<segment_store::entry_list> segment_store::load_entries(mailbox_id mailbox,
                                                              std::span<const imap_uid> uids) {
  const std::vector<imap_uid> wanted = detail::sorted_unique(uids);
  entry_list out;
  if (wanted.empty()) return out;
  prefix_scan it(db_.get(), cf(cf_idx), mailbox);
  it->Seek(index_key(mailbox, wanted.front()));
  for (imap_uid uid : wanted) {
    if (!it->Valid()) break;
    imap_uid current = index_key_uid(it->key().ToStringView());
    if (current < uid) {
      it->Seek(index_key(mailbox, uid));
      if (!it->Valid()) break;
      current = index_key_uid(it->key().ToStringView());
    }
    if (current != uid) continue;
    auto e = decode_index(it->value().ToStringView());
    if (!e) return corrupt(fmt::format("mailbox {} UID {}: malformed index entry", mailbox, uid));
    out.emplace_back(uid, std::move(*e));
    it->Next();
  }
  if (!it->status().ok()) return from_rocks(it->status(), "reading the message index");
  return out;
}

result<index_entry> segment_store::load_entry(mailbox_id mailbox, imap_uid uid) {
  auto state = get_state(mailbox);
  if (!state.ok()) return state.error();
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), cf(cf_idx), index_key(mailbox, uid), &value);
  if (s.IsNotFound()) {
    std::lock_guard lock((*state)->mutex);
    if ((*state)->deleted) return status(errc::not_found, "mailbox deleted");
    if (uid < (*state)->record.uidnext) {
      return status(errc::expunged, fmt::format("UID {} was expunged", uid));
    }
    return status(errc::not_found, fmt::format("no message with UID {}", uid));
  }
  if (!s.ok()) return from_rocks(s, "reading the message index");
  auto e = decode_index(value);
  if (!e) return corrupt(fmt::format("mailbox {} UID {}: malformed index entry", mailbox, uid));
  return std::move(*e);
}

status segment_store::add_ref_changes(const std::map<body_id, int>& deltas,
                                      rocksdb::WriteBatch& batch,
                                      std::vector<std::unique_lock<std::mutex>>& locks) {
  std::vector<std::mutex*> stripes;
  for (const auto& [id, delta] : deltas) {
    std::size_t h = std::hash<std::string_view>()(
        std::string_view(reinterpret_cast<const char*>(id.data()), id.size()));
    stripes.push_back(&ref_stripes_[h % k_ref_stripes]);
  }
  // ref_stripes_ is an array, so address order is index order.
  for (auto& l : lock_in_order(std::move(stripes))) locks.push_back(std::move(l));
  for (const auto& [id, delta] : deltas) {
    if (delta == 0) continue;
    std::string key = body_key(id);
    std::string value;
    auto s = db_->Get(rocksdb::ReadOptions(), cf(cf_ref), key, &value);
    std::optional<ref_record> ref;
    if (s.ok()) {
      ref = decode_ref(value);
    } else if (!s.IsNotFound()) {
      return from_rocks(s, "reading a refcount");
    }
    if (!ref) {
      // Leave the body for the scrub rather than failing the user's request.
      spdlog::error("storage: body {}: refcount record missing or malformed; left in place",
                    body_id_hex(id));
      continue;
    }
    std::int64_t count = std::int64_t{ref->refcount} + delta;
    if (count <= 0) {
      // Bodies and cache entries are written exactly once: SingleDelete.
      batch.SingleDelete(cf(cf_body), key);
      batch.SingleDelete(cf(cf_cache), cache_key(id));
      batch.Delete(cf(cf_ref), key);  // rewritten on every change: plain Delete
    } else {
      ref->refcount = static_cast<std::uint32_t>(count);
      batch.Put(cf(cf_ref), key, encode(*ref));
    }
  }
  return {};
}

// --- users -----------------------------------------------------------------------

result<user_id> segment_store::find_user(std::string_view name) {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), cf(cf_user), user_name_key(ascii_lower(name)), &value);
  if (s.IsNotFound()) return status(errc::not_found, fmt::format("no user \"{}\"", name));
  if (!s.ok()) return from_rocks(s, "reading the user index");
  if (value.size() != 8) return corrupt(fmt::format("user \"{}\": malformed name entry", name));
  return get_u64(value);
}

result<user_id> segment_store::ensure_user(std::string_view name) {
  if (name.empty()) return status(errc::invalid_argument, "empty user name");
  auto found = find_user(name);
  if (found.ok() || found.code() != errc::not_found) return found;

  std::unique_lock tree(tree_mutex_);
  found = find_user(name);
  if (found.ok() || found.code() != errc::not_found) return found;

  user_id id = next_user_++;
  user_record user;
  user.name = ascii_lower(name);
  rocksdb::WriteBatch batch;
  std::string v;
  put_u64(v, id);
  batch.Put(cf(cf_user), user_name_key(user.name), v);
  std::uint64_t next_mailbox = next_mailbox_;
  for (auto [mailbox_name, uses] : detail::k_default_mailboxes) {
    mailbox_id mid = next_mailbox++;
    auto record = new_mailbox_record(id, std::string(mailbox_name), uses, user);
    v.clear();
    put_u64(v, mid);
    batch.Put(cf(cf_mbox), mailbox_name_key(id, mailbox_name), v);
    batch.Put(cf(cf_mbox), mailbox_key(mid), encode(record));
  }
  batch.Put(cf(cf_user), user_key(id), encode(user));
  v.clear();
  put_u64(v, next_user_);
  batch.Put(cf(cf_meta), k_meta_next_user, v);
  v.clear();
  put_u64(v, next_mailbox);
  batch.Put(cf(cf_meta), k_meta_next_mailbox, v);
  if (auto s = commit(batch); !s.ok()) {
    --next_user_;
    return s;
  }
  next_mailbox_ = next_mailbox;
  return id;
}

result<std::vector<std::string>> segment_store::list_users() {
  std::vector<std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(cf_user)));
  const std::string prefix(1, k_user_name_tag);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    out.emplace_back(it->key().ToStringView().substr(1));
  }
  if (!it->status().ok()) return from_rocks(it->status(), "listing users");
  return out;
}

// --- the mailbox tree ----------------------------------------------------------------

result<std::vector<mailbox_info>> segment_store::list_mailboxes(user_id user) {
  std::shared_lock tree(tree_mutex_);
  if (auto u = read_user(user); !u.ok()) return u.error();
  std::vector<mailbox_info> out;
  const std::string prefix = mailbox_name_prefix(user);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(cf_mbox)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->value().size() != 8) return corrupt("malformed mailbox name entry");
    auto state = get_state(get_u64(it->value().ToStringView()));
    if (!state.ok()) return state.error();
    std::lock_guard lock((*state)->mutex);
    out.push_back(to_info((*state)->id, (*state)->record));
  }
  if (!it->status().ok()) return from_rocks(it->status(), "listing mailboxes");
  return out;
}

result<mailbox_info> segment_store::get_mailbox(user_id user, std::string_view name) {
  std::shared_lock tree(tree_mutex_);
  auto state = find_mailbox_locked(user, canonical_name(name));
  if (!state.ok()) return state.error();
  std::lock_guard lock((*state)->mutex);
  return to_info((*state)->id, (*state)->record);
}

result<mailbox_info> segment_store::get_mailbox(mailbox_id mailbox) {
  auto state = get_state(mailbox);
  if (!state.ok()) return state.error();
  std::lock_guard lock((*state)->mutex);
  if ((*state)->deleted) return status(errc::not_found, "mailbox deleted");
  return to_info((*state)->id, (*state)->record);
}

result<mailbox_info> segment_store::create_mailbox(user_id user, std::string_view raw_name,
                                                   std::uint8_t special_use) {
  if (!valid_name(raw_name)) {
    return status(errc::invalid_argument, fmt::format("invalid mailbox name \"{}\"", raw_name));
  }
  std::string name = canonical_name(raw_name);
  std::unique_lock tree(tree_mutex_);
  auto user_rec = read_user(user);
  if (!user_rec.ok()) return user_rec.error();
  auto existing = find_mailbox_locked(user, name);
  if (existing.ok()) return status(errc::exists, fmt::format("mailbox \"{}\" exists", name));
  if (existing.code() != errc::not_found) return existing.error();

  mailbox_id id = next_mailbox_;
  auto record = new_mailbox_record(user, name, special_use, *user_rec);
  rocksdb::WriteBatch batch;
  std::string v;
  put_u64(v, id);
  batch.Put(cf(cf_mbox), mailbox_name_key(user, name), v);
  batch.Put(cf(cf_mbox), mailbox_key(id), encode(record));
  batch.Put(cf(cf_user), user_key(user), encode(*user_rec));
  v.clear();
  put_u64(v, id + 1);
  batch.Put(cf(cf_meta), k_meta_next_mailbox, v);
  if (auto s = commit(batch); !s.ok()) return s;
  next_mailbox_ = id + 1;
  return to_info(id, record);
}

status segment_store::delete_mailbox(user_id user, std::string_view raw_name) {
  std::string name = canonical_name(raw_name);
  if (name == k_inbox) return status(errc::invalid_argument, "INBOX cannot be deleted");
  std::unique_lock tree(tree_mutex_);
  auto state = find_mailbox_locked(user, name);
  if (!state.ok()) return state.error();
  auto& st = **state;
  std::unique_lock lock(st.mutex);

  rocksdb::WriteBatch batch;
  std::map<body_id, int> deltas;
  {
    prefix_scan it(db_.get(), cf(cf_idx), st.id);
    for (it->Seek(mailbox_prefix(st.id)); it->Valid(); it->Next()) {
      auto e = decode_index(it->value().ToStringView());
      if (!e) {
        spdlog::error("storage: mailbox {}: malformed index entry skipped while deleting", st.id);
        continue;
      }
      --deltas[e->body];
    }
    if (!it->status().ok()) return from_rocks(it->status(), "reading the message index");
  }
  batch.Delete(cf(cf_mbox), mailbox_name_key(user, name));
  batch.Delete(cf(cf_mbox), mailbox_key(st.id));
  // Range tombstones replicate through the WAL like any other write.
  batch.DeleteRange(cf(cf_idx), mailbox_prefix(st.id), mailbox_prefix(st.id + 1));
  batch.DeleteRange(cf(cf_chg), mailbox_prefix(st.id), mailbox_prefix(st.id + 1));
  std::vector<std::unique_lock<std::mutex>> ref_locks;
  if (auto s = add_ref_changes(deltas, batch, ref_locks); !s.ok()) return s;
  if (auto s = commit(batch); !s.ok()) return s;
  ref_locks.clear();
  st.deleted = true;
  modseq_t highest = st.record.highest_modseq;
  lock.unlock();
  {
    std::unique_lock states(states_mutex_);
    states_.erase(st.id);
  }
  tree.unlock();
  watchers_->fire(st.id, highest);
  return {};
}

status segment_store::rename_mailbox(user_id user, std::string_view raw_from,
                                     std::string_view raw_to) {
  if (!valid_name(raw_to)) {
    return status(errc::invalid_argument, fmt::format("invalid mailbox name \"{}\"", raw_to));
  }
  std::string from = canonical_name(raw_from);
  std::string to = canonical_name(raw_to);
  if (auto s = detail::check_rename(from, to); !s.ok()) return s;

  if (from == k_inbox) {
    // RFC 3501 6.3.5: a new mailbox receives INBOX's messages; INBOX stays, empty.
    mailbox_id inbox_id = 0;
    {
      std::shared_lock tree(tree_mutex_);
      auto inbox = find_mailbox_locked(user, from);
      if (!inbox.ok()) return inbox.error();
      inbox_id = (*inbox)->id;
    }
    auto created = create_mailbox(user, to, 0);
    if (!created.ok()) return created.error();
    auto listed = list_messages(inbox_id);
    if (!listed.ok()) return listed.error();
    std::vector<imap_uid> uids;
    for (const auto& m : *listed) uids.push_back(m.uid);
    if (uids.empty()) return {};
    auto moved = copy(inbox_id, uids, created->id, true);
    return moved.ok() ? status() : moved.error();
  }

  std::unique_lock tree(tree_mutex_);
  auto source = find_mailbox_locked(user, from);
  if (!source.ok()) return source.error();
  // The mailbox and every child, with their new names.
  std::vector<std::pair<state_ptr, std::string>> moves;
  const std::string prefix = mailbox_name_prefix(user);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(cf_mbox)));
  for (it->Seek(mailbox_name_key(user, from)); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    std::string_view name = it->key().ToStringView().substr(prefix.size());
    if (name != from && !name.starts_with(from + "/")) {
      if (name > from + "/\xff") break;
      continue;
    }
    if (it->value().size() != 8) return corrupt("malformed mailbox name entry");
    auto state = get_state(get_u64(it->value().ToStringView()));
    if (!state.ok()) return state.error();
    moves.emplace_back(*state, to + std::string(name.substr(from.size())));
  }
  if (!it->status().ok()) return from_rocks(it->status(), "listing mailboxes");
  for (const auto& [state, new_name] : moves) {
    auto taken = find_mailbox_locked(user, new_name);
    if (taken.ok()) return status(errc::exists, fmt::format("mailbox \"{}\" exists", new_name));
    if (taken.code() != errc::not_found) return taken.error();
  }
  std::sort(moves.begin(), moves.end(),
            [](const auto& a, const auto& b) { return a.first->id < b.first->id; });
  std::vector<std::unique_lock<std::mutex>> locks;
  for (auto& [state, new_name] : moves) locks.emplace_back(state->mutex);
  rocksdb::WriteBatch batch;
  std::vector<mailbox_record> records;
  for (auto& [state, new_name] : moves) {
    batch.Delete(cf(cf_mbox), mailbox_name_key(user, state->record.name));
    std::string v;
    put_u64(v, state->id);
    batch.Put(cf(cf_mbox), mailbox_name_key(user, new_name), v);
    auto record = state->record;
    record.name = new_name;
    batch.Put(cf(cf_mbox), mailbox_key(state->id), encode(record));
    records.push_back(std::move(record));
  }
  if (auto s = commit(batch); !s.ok()) return s;
  for (std::size_t i = 0; i < moves.size(); ++i) moves[i].first->record = std::move(records[i]);
  return {};
}

status segment_store::set_special_use(user_id user, std::string_view name, std::uint8_t uses) {
  std::shared_lock tree(tree_mutex_);
  auto state = find_mailbox_locked(user, canonical_name(name));
  if (!state.ok()) return state.error();
  std::lock_guard lock((*state)->mutex);
  auto record = (*state)->record;
  record.special_use = uses & detail::k_all_special_uses;
  rocksdb::WriteBatch batch;
  batch.Put(cf(cf_mbox), mailbox_key((*state)->id), encode(record));
  if (auto s = commit(batch); !s.ok()) return s;
  (*state)->record = std::move(record);
  return {};
}

status segment_store::set_subscribed(user_id user, std::string_view raw_name, bool subscribed) {
  if (!valid_name(raw_name)) {
    return status(errc::invalid_argument, fmt::format("invalid mailbox name \"{}\"", raw_name));
  }
  std::shared_lock tree(tree_mutex_);
  if (auto u = read_user(user); !u.ok()) return u.error();
  rocksdb::WriteBatch batch;
  auto key = subscription_key(user, canonical_name(raw_name));
  if (subscribed) {
    batch.Put(cf(cf_user), key, "");
  } else {
    batch.Delete(cf(cf_user), key);
  }
  return commit(batch);
}

result<std::vector<std::string>> segment_store::list_subscriptions(user_id user) {
  if (auto u = read_user(user); !u.ok()) return u.error();
  std::vector<std::string> out;
  const std::string prefix = subscription_prefix(user);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(cf_user)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    out.emplace_back(it->key().ToStringView().substr(prefix.size()));
  }
  if (!it->status().ok()) return from_rocks(it->status(), "listing subscriptions");
  return out;
}

// --- messages ----------------------------------------------------------------------

result<std::vector<appended>> segment_store::append(const append_request& request) {
  if (request.targets.empty()) return status(errc::invalid_argument, "append without a target");
  for (const auto& t : request.targets) {
    if (auto s = check_keywords(t.keywords); !s.ok()) return s;
    if (request.message.size() + t.prefix.size() > std::numeric_limits<std::uint32_t>::max()) {
      return status(errc::invalid_argument, "message too large");
    }
  }
  // Everything that does not need a lock happens first: parse, encode, id.
  const body_id id = next_body_id();
  rocksdb::WriteBatch batch;
  batch.Put(cf(cf_body), body_key(id), encode_body(id, request.message));
  batch.Put(cf(cf_ref), body_key(id),
            encode(ref_record{static_cast<std::uint32_t>(request.targets.size()),
                              request.message.size()}));
  batch.Put(cf(cf_cache), cache_key(id), mime::parse(request.message).encode());
  const std::int64_t internal_date =
      request.internal_date != 0 ? request.internal_date : std::time(nullptr);

  std::map<mailbox_id, state_ptr> states;
  for (const auto& t : request.targets) {
    if (states.count(t.mailbox)) continue;
    auto state = get_state(t.mailbox);
    if (!state.ok()) {
      if (state.code() != errc::not_found) return state.error();
      return status(errc::try_create, fmt::format("no mailbox with id {}", t.mailbox));
    }
    states.emplace(t.mailbox, *state);
  }
  std::vector<std::unique_lock<std::mutex>> locks;  // std::map iterates in id order
  for (auto& [mid, state] : states) locks.emplace_back(state->mutex);
  record_map records;
  std::map<mailbox_id, modseq_t> modseqs;
  for (auto& [mid, state] : states) {
    if (state->deleted) return status(errc::try_create, fmt::format("no mailbox with id {}", mid));
    auto& r = records.emplace(mid, state->record).first->second;
    modseqs[mid] = next_modseq(r);
  }
  std::vector<appended> out;
  for (const auto& t : request.targets) {
    auto& r = records.at(t.mailbox);
    auto uid = next_uid(r);
    if (!uid.ok()) return uid.error();
    index_entry e;
    e.body = id;
    e.modseq = modseqs.at(t.mailbox);
    e.internal_date = internal_date;
    e.tz_offset = request.tz_offset;
    e.size = static_cast<std::uint32_t>(t.prefix.size() + request.message.size());
    e.flags = t.flags & k_all_flags;
    e.prefix = t.prefix;
    e.keywords = detail::normalize_keywords(t.keywords);
    batch.Put(cf(cf_idx), index_key(t.mailbox, *uid), encode(e));
    batch.Put(cf(cf_chg), change_key(t.mailbox, e.modseq, *uid),
              std::string(1, static_cast<char>(change_kind::append)));
    count_add(r, e);
    out.push_back({t.mailbox, r.uidvalidity, *uid, e.modseq});
  }
  for (const auto& [mid, r] : records) batch.Put(cf(cf_mbox), mailbox_key(mid), encode(r));
  if (auto s = commit(batch); !s.ok()) return s;
  for (auto& [mid, state] : states) state->record = records.at(mid);
  locks.clear();
  for (const auto& [mid, r] : records) watchers_->fire(mid, r.highest_modseq);
  return out;
}

result<std::vector<message_info>> segment_store::list_messages(mailbox_id mailbox) {
  auto state = get_state(mailbox);
  if (!state.ok()) return state.error();
  std::vector<message_info> out;
  prefix_scan it(db_.get(), cf(cf_idx), mailbox);
  for (it->Seek(mailbox_prefix(mailbox)); it->Valid(); it->Next()) {
    imap_uid uid = index_key_uid(it->key().ToStringView());
    auto e = decode_index(it->value().ToStringView());
    if (!e) return corrupt(fmt::format("mailbox {} UID {}: malformed index entry", mailbox, uid));
    out.push_back(to_message_info(uid, *e));
  }
  if (!it->status().ok()) return from_rocks(it->status(), "listing messages");
  return out;
}

result<message_info> segment_store::get_message(mailbox_id mailbox, imap_uid uid) {
  auto e = load_entry(mailbox, uid);
  if (!e.ok()) return e.error();
  return to_message_info(uid, *e);
}

result<std::string> segment_store::read_message(mailbox_id mailbox, imap_uid uid,
                                                std::uint64_t offset, std::uint64_t length) {
  auto e = load_entry(mailbox, uid);
  if (!e.ok()) return e.error();
  rocksdb::PinnableSlice record;
  auto s = db_->Get(rocksdb::ReadOptions(), cf(cf_body), body_key(e->body), &record);
  if (s.IsNotFound()) {
    return corrupt(
        fmt::format("mailbox {} UID {}: body {} is missing", mailbox, uid, body_id_hex(e->body)));
  }
  if (!s.ok()) return from_rocks(s, fmt::format("reading mailbox {} UID {}", mailbox, uid));
  auto raw = decode_body(e->body, record.ToStringView());
  if (!raw.ok()) {
    return corrupt(fmt::format("mailbox {} UID {}: {}", mailbox, uid, raw.error().message()));
  }
  return detail::slice_message(e->prefix, *raw, offset, length);
}

result<mime::message_structure> segment_store::read_structure(mailbox_id mailbox, imap_uid uid) {
  auto e = load_entry(mailbox, uid);
  if (!e.ok()) return e.error();
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), cf(cf_cache), cache_key(e->body), &value);
  if (s.IsNotFound()) {
    return corrupt(fmt::format("mailbox {} UID {}: structure of body {} is missing", mailbox, uid,
                               body_id_hex(e->body)));
  }
  if (!s.ok()) return from_rocks(s, "reading a message structure");
  auto structure = mime::message_structure::decode(value);
  if (!structure) {
    return corrupt(fmt::format("mailbox {} UID {}: structure of body {} does not decode", mailbox,
                               uid, body_id_hex(e->body)));
  }
  return std::move(*structure);
}

result<copy_result> segment_store::copy(mailbox_id from, std::span<const imap_uid> uids,
                                        mailbox_id to, bool move) {
  auto source = get_state(from);
  if (!source.ok()) return source.error();
  auto target = get_state(to);
  if (!target.ok()) {
    if (target.code() != errc::not_found) return target.error();
    return status(errc::try_create, fmt::format("no mailbox with id {}", to));
  }
  auto locks = lock_in_order({&(*source)->mutex, &(*target)->mutex});
  if ((*source)->deleted) return status(errc::not_found, "mailbox deleted");
  if ((*target)->deleted) return status(errc::try_create, "mailbox deleted");
  auto entries = load_entries(from, uids);
  if (!entries.ok()) return entries.error();
  copy_result out;
  out.uidvalidity = (*target)->record.uidvalidity;
  if (entries->empty()) return out;

  // A copy leaves the source as it is: its record is not rewritten and its
  // watchers are not woken.
  record_map records{{to, (*target)->record}};
  if (move) records.emplace(from, (*source)->record);  // no-op when from == to
  rocksdb::WriteBatch batch;
  std::map<body_id, int> deltas;
  modseq_t target_modseq = next_modseq(records.at(to));
  modseq_t source_modseq = 0;
  if (move) source_modseq = from == to ? target_modseq : next_modseq(records.at(from));
  for (auto& [uid, e] : *entries) {
    auto& tr = records.at(to);
    auto new_uid = next_uid(tr);
    if (!new_uid.ok()) return new_uid.error();
    index_entry copy_entry = e;
    copy_entry.modseq = target_modseq;
    batch.Put(cf(cf_idx), index_key(to, *new_uid), encode(copy_entry));
    batch.Put(cf(cf_chg), change_key(to, target_modseq, *new_uid),
              std::string(1, static_cast<char>(change_kind::append)));
    count_add(tr, copy_entry);
    if (move) {
      batch.Delete(cf(cf_idx), index_key(from, uid));
      batch.Put(cf(cf_chg), change_key(from, source_modseq, uid),
                std::string(1, static_cast<char>(change_kind::expunge)));
      count_remove(records.at(from), e);
    } else {
      ++deltas[e.body];  // a move keeps the count: one reference leaves, one arrives
    }
    out.uids.emplace_back(uid, *new_uid);
  }
  for (const auto& [mid, r] : records) batch.Put(cf(cf_mbox), mailbox_key(mid), encode(r));
  std::vector<std::unique_lock<std::mutex>> ref_locks;
  if (auto s = add_ref_changes(deltas, batch, ref_locks); !s.ok()) return s;
  if (auto s = commit(batch); !s.ok()) return s;
  ref_locks.clear();
  (*target)->record = records.at(to);
  if (move) (*source)->record = records.at(from);
  locks.clear();
  for (const auto& [mid, r] : records) watchers_->fire(mid, r.highest_modseq);
  return out;
}

result<flag_result> segment_store::store_flags(mailbox_id mailbox, std::span<const imap_uid> uids,
                                               const flag_change& change) {
  if (auto s = check_keywords(change.keywords); !s.ok()) return s;
  auto state = get_state(mailbox);
  if (!state.ok()) return state.error();
  auto& st = **state;
  std::unique_lock lock(st.mutex);
  if (st.deleted) return status(errc::not_found, "mailbox deleted");
  auto entries = load_entries(mailbox, uids);
  if (!entries.ok()) return entries.error();

  const auto wanted_keywords = detail::normalize_keywords(change.keywords);
  const std::uint8_t flags = change.flags & k_all_flags;
  flag_result out;
  struct update {
    const index_entry* old;
    index_entry next;
  };
  std::vector<std::pair<imap_uid, update>> changed;
  for (const auto& [uid, e] : *entries) {
    if (change.unchanged_since && e.modseq > *change.unchanged_since) {
      out.modified.push_back(uid);
      continue;
    }
    detail::flag_state next =
        detail::apply_flag_change(e.flags, e.keywords, change.op, flags, wanted_keywords);
    if (next.flags == e.flags && next.keywords == e.keywords) continue;
    index_entry n = e;
    n.flags = next.flags;
    n.keywords = std::move(next.keywords);
    changed.push_back({uid, {&e, std::move(n)}});
  }
  if (changed.empty()) return out;

  auto record = st.record;
  modseq_t modseq = next_modseq(record);
  rocksdb::WriteBatch batch;
  for (auto& [uid, u] : changed) {
    index_entry& n = u.next;
    count_remove(record, *u.old);
    n.modseq = modseq;
    count_add(record, n);
    batch.Put(cf(cf_idx), index_key(mailbox, uid), encode(n));
    batch.Put(cf(cf_chg), change_key(mailbox, modseq, uid),
              std::string(1, static_cast<char>(change_kind::flags)));
    out.changed.push_back(to_message_info(uid, n));
  }
  batch.Put(cf(cf_mbox), mailbox_key(mailbox), encode(record));
  if (auto s = commit(batch); !s.ok()) return s;
  st.record = record;
  lock.unlock();
  watchers_->fire(mailbox, modseq);
  return out;
}

result<std::vector<imap_uid>> segment_store::expunge(mailbox_id mailbox,
                                                     std::span<const imap_uid> uids) {
  auto state = get_state(mailbox);
  if (!state.ok()) return state.error();
  auto& st = **state;
  std::unique_lock lock(st.mutex);
  if (st.deleted) return status(errc::not_found, "mailbox deleted");
  auto entries = load_entries(mailbox, uids);
  if (!entries.ok()) return entries.error();
  std::vector<imap_uid> out;
  if (entries->empty()) return out;
  auto record = st.record;
  modseq_t modseq = next_modseq(record);
  rocksdb::WriteBatch batch;
  std::map<body_id, int> deltas;
  for (const auto& [uid, e] : *entries) {
    batch.Delete(cf(cf_idx), index_key(mailbox, uid));
    batch.Put(cf(cf_chg), change_key(mailbox, modseq, uid),
              std::string(1, static_cast<char>(change_kind::expunge)));
    count_remove(record, e);
    --deltas[e.body];
    out.push_back(uid);
  }
  batch.Put(cf(cf_mbox), mailbox_key(mailbox), encode(record));
  std::vector<std::unique_lock<std::mutex>> ref_locks;
  if (auto s = add_ref_changes(deltas, batch, ref_locks); !s.ok()) return s;
  if (auto s = commit(batch); !s.ok()) return s;
  ref_locks.clear();
  st.record = record;
  lock.unlock();
  watchers_->fire(mailbox, modseq);
  return out;
}

// --- following changes ---------------------------------------------------------------

result<std::vector<change>> segment_store::changes_since(mailbox_id mailbox, modseq_t since) {
  auto state = get_state(mailbox);
  if (!state.ok()) return state.error();
  std::vector<change> out;
  if (since == std::numeric_limits<modseq_t>::max()) return out;
  prefix_scan it(db_.get(), cf(cf_chg), mailbox);
  for (it->Seek(change_key(mailbox, since + 1, 0)); it->Valid(); it->Next()) {
    auto key = it->key().ToStringView();
    auto value = it->value().ToStringView();
    if (key.size() != 20 || value.size() != 1 || value[0] < 1 || value[0] > 3) {
      return corrupt(fmt::format("mailbox {}: malformed change journal entry", mailbox));
    }
    out.push_back(
        {get_u64(key.substr(8)), static_cast<change_kind>(value[0]), get_u32(key.substr(16))});
  }
  if (!it->status().ok()) return from_rocks(it->status(), "reading the change journal");
  return out;
}

std::unique_ptr<watch_handle> segment_store::watch(mailbox_id mailbox, change_callback callback) {
  return watchers_->add(mailbox, std::move(callback));
}

result<store_stats> segment_store::stats() {
  store_stats out;
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  auto users = list_users();
  if (!users.ok()) return users.error();
  out.users = users->size();
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(cf_mbox)));
    const std::string prefix(1, k_mailbox_tag);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      auto r = decode_mailbox(it->value().ToStringView());
      if (!r) return corrupt("malformed mailbox record");
      ++out.mailboxes;
      out.messages += r->messages;
    }
    if (!it->status().ok()) return from_rocks(it->status(), "reading mailbox records");
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(cf_ref)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto r = decode_ref(it->value().ToStringView());
    if (!r) return corrupt("malformed refcount record");
    ++out.bodies;
    out.bytes += r->raw_len;
  }
  if (!it->status().ok()) return from_rocks(it->status(), "reading refcounts");
  return out;
}

}  // namespace packmail::storage::segment

namespace packmail::storage {

result<std::unique_ptr<mail_store>> open_segment_store(const segment_options& options) {
  return segment::segment_store::open(options);
}

}  // namespace packmail::storage
