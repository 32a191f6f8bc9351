// The segment backend's mail_store over RocksDB (internal to storage/).
//
// Locking order, always: tree_mutex_ (mailbox tree and users) -> mailbox
// mutexes in ascending id order -> refcount stripes in ascending index. Each
// mutation builds one WriteBatch and writes it while holding its locks, so
// UIDs and MODSEQs become visible in allocation order; different mailboxes
// commit concurrently and RocksDB group-commits their WAL syncs.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "../common/watch_registry.h"
#include "keys.h"
#include "packmail/storage/segment_replication.h"
#include "packmail/storage/store.h"

namespace packmail::storage::segment {

class segment_store final : public mail_store {
 public:
  static result<std::unique_ptr<mail_store>> open(const segment_options& options);
  ~segment_store() override;

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

  // The database itself, for replication (segment_replication.h).
  segment_db::db_ref database() const { return {db_.get(), handles_}; }

 private:
  struct mailbox_state {
    std::mutex mutex;
    mailbox_id id = 0;
    mailbox_record record;  // as committed; changed only after a successful Write
    bool deleted = false;
  };
  using state_ptr = std::shared_ptr<mailbox_state>;
  using entry_list = std::vector<std::pair<imap_uid, index_entry>>;
  // Working copies of mailbox records for one batch, by id.
  using record_map = std::map<mailbox_id, mailbox_record>;

  explicit segment_store(const segment_options& options);
  status init();

  rocksdb::ColumnFamilyHandle* cf(cf_index i) const { return handles_[i + 1]; }
  status commit(rocksdb::WriteBatch& batch);
  result<state_ptr> get_state(mailbox_id id);
  result<state_ptr> find_mailbox_locked(user_id user, const std::string& name);
  result<user_record> read_user(user_id user);
  result<entry_list> load_entries(mailbox_id mailbox, std::span<const imap_uid> uids);
  result<index_entry> load_entry(mailbox_id mailbox, imap_uid uid);
  modseq_t next_modseq(mailbox_record& r) const;
  result<imap_uid> next_uid(mailbox_record& r) const;
  body_id next_body_id();
  // Adds the refcount changes to `batch`, freeing bodies that reach zero.
  // Locks the stripes into `locks`; keep them until the batch is written.
  status add_ref_changes(const std::map<body_id, int>& deltas, rocksdb::WriteBatch& batch,
                         std::vector<std::unique_lock<std::mutex>>& locks);
  mailbox_record new_mailbox_record(user_id owner, std::string name, std::uint8_t uses,
                                    user_record& user);
  mailbox_info to_info(mailbox_id id, const mailbox_record& r) const;

  segment_options options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // "default" first, then keys.h order
  std::uint16_t epoch_ = 1;

  std::shared_mutex tree_mutex_;  // users, mailbox names, id counters
  std::uint64_t next_user_ = 1;
  std::uint64_t next_mailbox_ = 1;

  std::shared_mutex states_mutex_;
  std::unordered_map<mailbox_id, state_ptr> states_;

  static constexpr std::size_t k_ref_stripes = 64;
  std::array<std::mutex, k_ref_stripes> ref_stripes_;

  std::atomic<std::uint64_t> body_counter_{0};
  std::atomic<std::uint64_t> body_last_ms_{0};

  std::shared_ptr<detail::watch_registry> watchers_ = std::make_shared<detail::watch_registry>();
};

}  // namespace packmail::storage::segment
