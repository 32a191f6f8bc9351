// The memory backend: the whole store in process memory, nothing durable.
// It is the reference implementation of the contract in store.h and backs
// protocol tests that do not need a disk.
//
// One store-wide shared_mutex guards all state: copy, move and INBOX rename
// span two mailboxes, and a single lock keeps them atomic without a lock order
// to get wrong. MIME parsing, the only costly step, runs before the lock is
// taken. Watch callbacks run after the lock is released (store.h).
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../common/mailbox_rules.h"
#include "../common/watch_registry.h"
#include "packmail/storage/store.h"

namespace packmail::storage {
namespace {

using detail::ascii_lower;
using detail::canonical_name;
using detail::k_inbox;
using detail::valid_name;

std::int64_t now_seconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::uint64_t now_millis() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// ---------------------------------------------------------------------------
// State

struct stored_body {
  std::string bytes;
  std::shared_ptr<const mime::message_structure> structure;
  std::uint32_t refs = 0;
};

struct entry {
  message_info info;
  std::string prefix;
};

struct mailbox {
  mailbox_info info;
  std::map<imap_uid, entry> messages;
  std::vector<change> journal;  // full history, modseq order
};

struct user {
  user_id id = 0;
  std::string name;
  std::uint32_t last_uidvalidity = 0;
  std::map<std::string, mailbox_id> mailboxes;  // by canonical name
  std::set<std::string> subscriptions;
};

// A committed change to announce once the lock is released.
struct notice {
  mailbox_id mailbox = 0;
  modseq_t highest_modseq = 0;
};

void account(mailbox_info& info, const message_info& message, int sign) {
  auto adjust = [sign](auto& counter, auto amount) {
    counter = sign > 0 ? counter + amount : counter - amount;
  };
  adjust(info.messages, 1u);
  adjust(info.bytes, std::uint64_t{message.size});
  if (!(message.flags & flag_seen)) adjust(info.unseen, 1u);
  if (message.flags & flag_deleted) adjust(info.deleted, 1u);
}

class memory_store final : public mail_store {
 public:
  result<user_id> ensure_user(std::string_view name) override;
  result<user_id> find_user(std::string_view name) override;
  result<std::vector<std::string>> list_users() override;

  result<std::vector<mailbox_info>> list_mailboxes(user_id user) override;
  result<mailbox_info> get_mailbox(user_id user, std::string_view name) override;
  result<mailbox_info> get_mailbox(mailbox_id mailbox) override;
  result<mailbox_info> create_mailbox(user_id user, std::string_view name,
                                      std::uint8_t special_use) override;
  status delete_mailbox(user_id user, std::string_view name) override;
  status rename_mailbox(user_id user, std::string_view from, std::string_view to) override;
  status set_special_use(user_id user, std::string_view name, std::uint8_t uses) override;
  status set_subscribed(user_id user, std::string_view name, bool subscribed) override;
  result<std::vector<std::string>> list_subscriptions(user_id user) override;

  result<std::vector<appended>> append(const append_request& request) override;
  result<std::vector<message_info>> list_messages(mailbox_id mailbox) override;
  result<message_info> get_message(mailbox_id mailbox, imap_uid uid) override;
  result<std::string> read_message(mailbox_id mailbox, imap_uid uid, std::uint64_t offset,
                                   std::uint64_t length) override;
  result<mime::message_structure> read_structure(mailbox_id mailbox, imap_uid uid) override;
  result<copy_result> copy(mailbox_id from, std::span<const imap_uid> uids, mailbox_id to,
                           bool move) override;
  result<flag_result> store_flags(mailbox_id mailbox, std::span<const imap_uid> uids,
                                  const flag_change& change) override;
  result<std::vector<imap_uid>> expunge(mailbox_id mailbox,
                                        std::span<const imap_uid> uids) override;

  result<std::vector<change>> changes_since(mailbox_id mailbox, modseq_t since) override;
  std::unique_ptr<watch_handle> watch(mailbox_id mailbox, change_callback callback) override;

  result<store_stats> stats() override;

 private:
  // --- helpers; callers hold mutex_ ---
  user* find_user_locked(user_id id);
  mailbox* find_mailbox_locked(mailbox_id id);
  mailbox* find_mailbox_locked(user& owner, const std::string& canonical);
  mailbox& create_locked(user& owner, const std::string& canonical, std::uint8_t uses);
  void destroy_locked(user& owner, mailbox& box);
  void rename_inbox_locked(user& owner, mailbox& inbox, const std::string& target,
                           std::vector<notice>& notices);
  status rename_tree_locked(user& owner, const std::string& source, const std::string& target);
  modseq_t next_modseq() { return ++modseq_; }
  body_id next_body_id();
  // Gives `e` the mailbox's next UID and stores it; takes a body reference.
  imap_uid add_entry_locked(mailbox& box, entry e, modseq_t modseq);
  // Drops the entry and its body reference.
  void remove_entry_locked(mailbox& box, std::map<imap_uid, entry>::iterator it, modseq_t modseq);
  void unref_body_locked(const body_id& id);
  static result<const entry*> find_entry(const mailbox& box, imap_uid uid);

  void publish(const std::vector<notice>& notices);

  std::shared_mutex mutex_;
  std::map<std::string, user_id> user_ids_;  // lower-case name -> id
  std::unordered_map<user_id, user> users_;
  std::unordered_map<mailbox_id, mailbox> mailboxes_;
  std::map<body_id, stored_body> bodies_;
  user_id next_user_id_ = 1;
  mailbox_id next_mailbox_id_ = 1;
  // One counter for the whole store, so that each mutation call's modseq is
  // above every earlier one in any mailbox (as the segment backend's modseq_hwm).
  modseq_t modseq_ = 0;
  std::uint64_t body_counter_ = 0;
  std::shared_ptr<detail::watch_registry> watches_ = std::make_shared<detail::watch_registry>();
};

// --- helpers ----------------------------------------------------------------

user* memory_store::find_user_locked(user_id id) {
  auto it = users_.find(id);
  return it == users_.end() ? nullptr : &it->second;
}

mailbox* memory_store::find_mailbox_locked(mailbox_id id) {
  auto it = mailboxes_.find(id);
  return it == mailboxes_.end() ? nullptr : &it->second;
}

mailbox* memory_store::find_mailbox_locked(user& owner, const std::string& canonical) {
  auto it = owner.mailboxes.find(canonical);
  return it == owner.mailboxes.end() ? nullptr : find_mailbox_locked(it->second);
}

mailbox& memory_store::create_locked(user& owner, const std::string& canonical, std::uint8_t uses) {
  // Re-creating a deleted name must raise UIDVALIDITY, or clients would
  // trust cached UIDs of the old mailbox (RFC 3501 2.3.1.1).
  owner.last_uidvalidity = detail::next_uidvalidity(owner.last_uidvalidity);
  const mailbox_id id = next_mailbox_id_++;
  mailbox& box = mailboxes_[id];
  box.info.id = id;
  box.info.owner = owner.id;
  box.info.name = canonical;
  box.info.uidvalidity = owner.last_uidvalidity;
  box.info.uidnext = 1;
  // RFC 7162 3.1.1: HIGHESTMODSEQ is at least 1, even for an empty mailbox.
  box.info.highest_modseq = next_modseq();
  box.info.special_use = uses & detail::k_all_special_uses;
  owner.mailboxes.emplace(canonical, id);
  return box;
}

void memory_store::destroy_locked(user& owner, mailbox& box) {
  for (auto& [uid, e] : box.messages) unref_body_locked(e.info.body);
  const mailbox_id id = box.info.id;
  owner.mailboxes.erase(box.info.name);
  mailboxes_.erase(id);
}

body_id memory_store::next_body_id() {
  body_id id{};
  const std::uint64_t ms = now_millis();
  const std::uint64_t counter = ++body_counter_;
  // epoch (u16, 0 here) | unix_ms (u48) | counter (u64), big-endian.
  for (int i = 0; i < 6; ++i) id[2 + i] = static_cast<std::uint8_t>(ms >> (8 * (5 - i)));
  for (int i = 0; i < 8; ++i) id[8 + i] = static_cast<std::uint8_t>(counter >> (8 * (7 - i)));
  return id;
}

imap_uid memory_store::add_entry_locked(mailbox& box, entry e, modseq_t modseq) {
  const imap_uid uid = box.info.uidnext++;
  e.info.uid = uid;
  e.info.modseq = modseq;
  ++bodies_.at(e.info.body).refs;
  account(box.info, e.info, +1);
  box.info.highest_modseq = modseq;
  box.journal.push_back({modseq, change_kind::append, uid});
  box.messages.emplace(uid, std::move(e));
  return uid;
}

void memory_store::remove_entry_locked(mailbox& box, std::map<imap_uid, entry>::iterator it,
                                       modseq_t modseq) {
  account(box.info, it->second.info, -1);
  box.info.highest_modseq = modseq;
  box.journal.push_back({modseq, change_kind::expunge, it->first});
  unref_body_locked(it->second.info.body);
  box.messages.erase(it);
}

void memory_store::unref_body_locked(const body_id& id) {
  auto it = bodies_.find(id);
  if (it == bodies_.end() || it->second.refs == 0) {
    // A dangling reference is a broken invariant; abort rather than guess.
    std::abort();
  }
  if (--it->second.refs > 0) return;
  bodies_.erase(it);
}

result<const entry*> memory_store::find_entry(const mailbox& box, imap_uid uid) {
  auto it = box.messages.find(uid);
  if (it != box.messages.end()) return &it->second;
  if (uid > 0 && uid < box.info.uidnext) {
    return status(errc::expunged, "message " + std::to_string(uid) + " was expunged");
  }
  return status(errc::not_found, "no message " + std::to_string(uid));
}

void memory_store::publish(const std::vector<notice>& notices) {
  for (const notice& n : notices) watches_->fire(n.mailbox, n.highest_modseq);
}

status no_user(user_id id) { return {errc::not_found, "no user " + std::to_string(id)}; }
status no_mailbox(mailbox_id id) { return {errc::not_found, "no mailbox " + std::to_string(id)}; }
status no_mailbox(std::string_view name) {
  return {errc::not_found, "no mailbox \"" + std::string(name) + "\""};
}
status bad_name(std::string_view name) {
  return {errc::invalid_argument, "invalid mailbox name \"" + std::string(name) + "\""};
}

// --- users ------------------------------------------------------------------

result<user_id> memory_store::ensure_user(std::string_view name) {
  if (name.empty()) return status(errc::invalid_argument, "empty user name");
  const std::string key = ascii_lower(name);
  std::unique_lock lock(mutex_);
  if (auto it = user_ids_.find(key); it != user_ids_.end()) return it->second;
  const user_id id = next_user_id_++;
  user& u = users_[id];
  u.id = id;
  u.name = key;
  user_ids_.emplace(key, id);
  for (const auto& [name, uses] : detail::k_default_mailboxes) {
    create_locked(u, std::string(name), uses);
  }
  return id;
}

result<user_id> memory_store::find_user(std::string_view name) {
  std::shared_lock lock(mutex_);
  auto it = user_ids_.find(ascii_lower(name));
  if (it == user_ids_.end())
    return status(errc::not_found, "no user \"" + std::string(name) + "\"");
  return it->second;
}

result<std::vector<std::string>> memory_store::list_users() {
  std::shared_lock lock(mutex_);
  std::vector<std::string> names;
  names.reserve(user_ids_.size());
  for (const auto& [name, id] : user_ids_) names.push_back(name);
  return names;
}

// --- the mailbox tree -------------------------------------------------------

result<std::vector<mailbox_info>> memory_store::list_mailboxes(user_id id) {
  std::shared_lock lock(mutex_);
  user* u = find_user_locked(id);
  if (!u) return no_user(id);
  std::vector<mailbox_info> out;
  out.reserve(u->mailboxes.size());
  for (const auto& [name, box] : u->mailboxes) out.push_back(mailboxes_.at(box).info);
  return out;
}

result<mailbox_info> memory_store::get_mailbox(user_id id, std::string_view name) {
  const std::string canonical = canonical_name(name);
  std::shared_lock lock(mutex_);
  user* u = find_user_locked(id);
  if (!u) return no_user(id);
  mailbox* box = find_mailbox_locked(*u, canonical);
  if (!box) return no_mailbox(name);
  return box->info;
}

result<mailbox_info> memory_store::get_mailbox(mailbox_id id) {
  std::shared_lock lock(mutex_);
  mailbox* box = find_mailbox_locked(id);
  if (!box) return no_mailbox(id);
  return box->info;
}

result<mailbox_info> memory_store::create_mailbox(user_id id, std::string_view name,
                                                  std::uint8_t special_use) {
  if (!valid_name(name)) return bad_name(name);
  const std::string canonical = canonical_name(name);
  std::unique_lock lock(mutex_);
  user* u = find_user_locked(id);
  if (!u) return no_user(id);
  if (u->mailboxes.contains(canonical)) {
    return status(errc::exists, "mailbox \"" + canonical + "\" exists");
  }
  return create_locked(*u, canonical, special_use).info;
}

status memory_store::delete_mailbox(user_id id, std::string_view name) {
  const std::string canonical = canonical_name(name);
  if (canonical == k_inbox) return {errc::invalid_argument, "INBOX cannot be deleted"};
  std::vector<notice> notices;
  {
    std::unique_lock lock(mutex_);
    user* u = find_user_locked(id);
    if (!u) return no_user(id);
    mailbox* box = find_mailbox_locked(*u, canonical);
    if (!box) return no_mailbox(name);
    // Watchers learn of the deletion by finding the mailbox gone.
    notices.push_back({box->info.id, box->info.highest_modseq});
    destroy_locked(*u, *box);
  }
  publish(notices);
  return {};
}

status memory_store::rename_mailbox(user_id id, std::string_view from, std::string_view to) {
  if (!valid_name(to)) return bad_name(to);
  const std::string source = canonical_name(from);
  const std::string target = canonical_name(to);
  if (auto s = detail::check_rename(source, target); !s.ok()) return s;
  std::vector<notice> notices;
  {
    std::unique_lock lock(mutex_);
    user* u = find_user_locked(id);
    if (!u) return no_user(id);
    mailbox* box = find_mailbox_locked(*u, source);
    if (!box) return no_mailbox(from);
    if (u->mailboxes.contains(target)) return {errc::exists, "mailbox \"" + target + "\" exists"};
    if (source != k_inbox) return rename_tree_locked(*u, source, target);
    rename_inbox_locked(*u, *box, target, notices);
  }
  publish(notices);
  return {};
}

// RFC 3501 6.3.5: the messages move to a new mailbox; INBOX stays, empty, and
// its children are not renamed.
void memory_store::rename_inbox_locked(user& owner, mailbox& inbox, const std::string& target,
                                       std::vector<notice>& notices) {
  mailbox& dest = create_locked(owner, target, 0);  // unordered_map keeps `inbox` valid
  const modseq_t modseq = next_modseq();
  while (!inbox.messages.empty()) {
    auto it = inbox.messages.begin();
    add_entry_locked(dest, it->second, modseq);
    remove_entry_locked(inbox, it, modseq);
  }
  notices.push_back({inbox.info.id, inbox.info.highest_modseq});
  notices.push_back({dest.info.id, dest.info.highest_modseq});
}

// Renames the mailbox and every child. Every new name is checked before
// anything changes, so the rename is all or nothing.
status memory_store::rename_tree_locked(user& owner, const std::string& source,
                                        const std::string& target) {
  const std::string child_prefix = source + "/";
  std::vector<std::pair<std::string, std::string>> moves;  // old, new
  for (const auto& [name, box_id] : owner.mailboxes) {
    if (name == source || name.starts_with(child_prefix)) {
      moves.emplace_back(name, target + name.substr(source.size()));
    }
  }
  std::set<std::string> leaving;
  for (const auto& m : moves) leaving.insert(m.first);
  for (const auto& m : moves) {
    if (owner.mailboxes.contains(m.second) && !leaving.contains(m.second)) {
      return {errc::exists, "mailbox \"" + m.second + "\" exists"};
    }
  }
  std::vector<std::pair<std::string, mailbox_id>> renamed;
  for (const auto& m : moves)
    renamed.emplace_back(m.second, owner.mailboxes.extract(m.first).mapped());
  for (auto& [name, box_id] : renamed) {
    mailboxes_.at(box_id).info.name = name;
    owner.mailboxes.emplace(name, box_id);
  }
  return {};
}

status memory_store::set_special_use(user_id id, std::string_view name, std::uint8_t uses) {
  const std::string canonical = canonical_name(name);
  std::unique_lock lock(mutex_);
  user* u = find_user_locked(id);
  if (!u) return no_user(id);
  mailbox* box = find_mailbox_locked(*u, canonical);
  if (!box) return no_mailbox(name);
  box->info.special_use = uses & detail::k_all_special_uses;
  return {};
}

status memory_store::set_subscribed(user_id id, std::string_view name, bool subscribed) {
  if (!valid_name(name)) return bad_name(name);
  const std::string canonical = canonical_name(name);
  std::unique_lock lock(mutex_);
  user* u = find_user_locked(id);
  if (!u) return no_user(id);
  if (subscribed) {
    u->subscriptions.insert(canonical);
  } else {
    u->subscriptions.erase(canonical);
  }
  return {};
}

result<std::vector<std::string>> memory_store::list_subscriptions(user_id id) {
  std::shared_lock lock(mutex_);
  user* u = find_user_locked(id);
  if (!u) return no_user(id);
  return std::vector<std::string>(u->subscriptions.begin(), u->subscriptions.end());
}

// --- messages ---------------------------------------------------------------

result<std::vector<appended>> memory_store::append(const append_request& request) {
  if (request.targets.empty()) return status(errc::invalid_argument, "append without a target");
  constexpr std::uint64_t k_max_size = std::numeric_limits<std::uint32_t>::max();
  for (const append_target& t : request.targets) {
    if (request.message.size() + t.prefix.size() > k_max_size) {
      return status(errc::invalid_argument, "message too large");
    }
  }
  // Parse before locking: it is the costly part of a delivery.
  auto structure = std::make_shared<const mime::message_structure>(mime::parse(request.message));
  const std::int64_t internal_date =
      request.internal_date == 0 ? now_seconds() : request.internal_date;

  std::vector<appended> out;
  std::vector<notice> notices;
  {
    std::unique_lock lock(mutex_);
    std::map<mailbox_id, std::uint64_t> wanted;  // new UIDs per mailbox
    for (const append_target& t : request.targets) {
      mailbox* box = find_mailbox_locked(t.mailbox);
      if (!box) {
        return status(errc::try_create, "no mailbox " + std::to_string(t.mailbox));
      }
      if (!detail::uids_available(box->info.uidnext, ++wanted[t.mailbox])) {
        return detail::uid_space_exhausted(box->info.name);
      }
    }
    const modseq_t modseq = next_modseq();
    const body_id body = next_body_id();
    stored_body& stored = bodies_[body];
    stored.bytes.assign(request.message);
    stored.structure = std::move(structure);
    for (const append_target& t : request.targets) {
      mailbox& box = mailboxes_.at(t.mailbox);
      entry e;
      e.info.internal_date = internal_date;
      e.info.tz_offset = request.tz_offset;
      e.info.size = static_cast<std::uint32_t>(request.message.size() + t.prefix.size());
      e.info.flags = t.flags & k_all_flags;
      e.info.keywords = detail::normalize_keywords(t.keywords);
      e.info.body = body;
      e.info.prefix_size = static_cast<std::uint32_t>(t.prefix.size());
      e.prefix = t.prefix;
      const imap_uid uid = add_entry_locked(box, std::move(e), modseq);
      out.push_back({box.info.id, box.info.uidvalidity, uid, modseq});
    }
    for (const auto& [box_id, count] : wanted) notices.push_back({box_id, modseq});
  }
  publish(notices);
  return out;
}

result<std::vector<message_info>> memory_store::list_messages(mailbox_id id) {
  std::shared_lock lock(mutex_);
  mailbox* box = find_mailbox_locked(id);
  if (!box) return no_mailbox(id);
  std::vector<message_info> out;
  out.reserve(box->messages.size());
  for (const auto& [uid, e] : box->messages) out.push_back(e.info);
  return out;
}

result<message_info> memory_store::get_message(mailbox_id id, imap_uid uid) {
  std::shared_lock lock(mutex_);
  mailbox* box = find_mailbox_locked(id);
  if (!box) return no_mailbox(id);
  auto found = find_entry(*box, uid);
  if (!found) return found.error();
  return (*found)->info;
}

result<std::string> memory_store::read_message(mailbox_id id, imap_uid uid, std::uint64_t offset,
                                               std::uint64_t length) {
  std::shared_lock lock(mutex_);
  mailbox* box = find_mailbox_locked(id);
  if (!box) return no_mailbox(id);
  auto found = find_entry(*box, uid);
  if (!found) return found.error();
  return detail::slice_message((*found)->prefix, bodies_.at((*found)->info.body).bytes, offset,
                               length);
}

result<mime::message_structure> memory_store::read_structure(mailbox_id id, imap_uid uid) {
  std::shared_ptr<const mime::message_structure> structure;
  {
    std::shared_lock lock(mutex_);
    mailbox* box = find_mailbox_locked(id);
    if (!box) return no_mailbox(id);
    auto found = find_entry(*box, uid);
    if (!found) return found.error();
    structure = bodies_.at((*found)->info.body).structure;
  }
  return *structure;  // the copy is made outside the lock
}

result<copy_result> memory_store::copy(mailbox_id from, std::span<const imap_uid> uids,
                                       mailbox_id to, bool move) {
  const std::vector<imap_uid> wanted = detail::sorted_unique(uids);
  copy_result out;
  std::vector<notice> notices;
  {
    std::unique_lock lock(mutex_);
    mailbox* source = find_mailbox_locked(from);
    if (!source) return no_mailbox(from);
    mailbox* dest = find_mailbox_locked(to);
    if (!dest) return status(errc::try_create, "no mailbox " + std::to_string(to));
    out.uidvalidity = dest->info.uidvalidity;
    std::vector<imap_uid> present;
    for (imap_uid uid : wanted) {
      if (source->messages.contains(uid)) present.push_back(uid);
    }
    if (present.empty()) return out;
    if (!detail::uids_available(dest->info.uidnext, present.size())) {
      return detail::uid_space_exhausted(dest->info.name);
    }
    const modseq_t modseq = next_modseq();
    for (imap_uid uid : present) {
      auto it = source->messages.find(uid);
      // Add before removing so the body never drops to zero references.
      const imap_uid new_uid = add_entry_locked(*dest, it->second, modseq);
      out.uids.emplace_back(uid, new_uid);
      if (move) remove_entry_locked(*source, source->messages.find(uid), modseq);
    }
    if (move && from != to) notices.push_back({from, source->info.highest_modseq});
    notices.push_back({to, dest->info.highest_modseq});
  }
  publish(notices);
  return out;
}

result<flag_result> memory_store::store_flags(mailbox_id id, std::span<const imap_uid> uids,
                                              const flag_change& request) {
  const std::vector<imap_uid> wanted = detail::sorted_unique(uids);
  const std::uint8_t flags = request.flags & k_all_flags;
  const std::vector<std::string> keywords = detail::normalize_keywords(request.keywords);
  flag_result out;
  std::vector<notice> notices;
  {
    std::unique_lock lock(mutex_);
    mailbox* box = find_mailbox_locked(id);
    if (!box) return no_mailbox(id);

    struct update {
      entry* target;
      detail::flag_state state;
    };
    std::vector<update> updates;
    for (imap_uid uid : wanted) {
      auto it = box->messages.find(uid);
      if (it == box->messages.end()) continue;
      message_info& info = it->second.info;
      if (request.unchanged_since && info.modseq > *request.unchanged_since) {
        out.modified.push_back(uid);
        continue;
      }
      detail::flag_state next =
          detail::apply_flag_change(info.flags, info.keywords, request.op, flags, keywords);
      if (next.flags != info.flags || next.keywords != info.keywords) {
        updates.push_back({&it->second, std::move(next)});
      }
    }
    if (updates.empty()) return out;

    const modseq_t modseq = next_modseq();
    for (update& u : updates) {
      message_info& info = u.target->info;
      account(box->info, info, -1);
      info.flags = u.state.flags;
      info.keywords = std::move(u.state.keywords);
      info.modseq = modseq;
      account(box->info, info, +1);
      box->journal.push_back({modseq, change_kind::flags, info.uid});
      out.changed.push_back(info);
    }
    box->info.highest_modseq = modseq;
    notices.push_back({id, modseq});
  }
  publish(notices);
  return out;
}

result<std::vector<imap_uid>> memory_store::expunge(mailbox_id id, std::span<const imap_uid> uids) {
  const std::vector<imap_uid> wanted = detail::sorted_unique(uids);
  std::vector<imap_uid> out;
  std::vector<notice> notices;
  {
    std::unique_lock lock(mutex_);
    mailbox* box = find_mailbox_locked(id);
    if (!box) return no_mailbox(id);
    for (imap_uid uid : wanted) {
      if (box->messages.contains(uid)) out.push_back(uid);
    }
    if (out.empty()) return out;
    const modseq_t modseq = next_modseq();
    for (imap_uid uid : out) remove_entry_locked(*box, box->messages.find(uid), modseq);
    notices.push_back({id, modseq});
  }
  publish(notices);
  return out;
}

// --- following changes ------------------------------------------------------

result<std::vector<change>> memory_store::changes_since(mailbox_id id, modseq_t since) {
  std::shared_lock lock(mutex_);
  mailbox* box = find_mailbox_locked(id);
  if (!box) return no_mailbox(id);
  auto first = std::upper_bound(box->journal.begin(), box->journal.end(), since,
                                [](modseq_t value, const change& c) { return value < c.modseq; });
  return std::vector<change>(first, box->journal.end());
}

std::unique_ptr<watch_handle> memory_store::watch(mailbox_id id, change_callback callback) {
  return watches_->add(id, std::move(callback));
}

result<store_stats> memory_store::stats() {
  std::shared_lock lock(mutex_);
  store_stats s;
  s.users = users_.size();
  s.mailboxes = mailboxes_.size();
  for (const auto& [id, box] : mailboxes_) s.messages += box.messages.size();
  s.bodies = bodies_.size();
  for (const auto& [id, body] : bodies_) s.bytes += body.bytes.size();
  return s;
}

}  // namespace

std::unique_ptr<mail_store> open_memory_store() { return std::make_unique<memory_store>(); }

}  // namespace packmail::storage
