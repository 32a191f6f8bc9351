// A mail_store for the session tests of every protocol: forwards each call to
// another store, fails chosen operations on request (the storage-error paths:
// POP3 SYS/TEMP, LMTP 451 4.3.0, ...), and counts some calls. Add a fault or
// a counter here when a test needs one.
//
// Not thread-safe: the session tests drive their sessions from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "packmail/storage/store.h"

namespace packmail::protocols::testing {

class fault_store final : public storage::mail_store {
 public:
  // `inner` must outlive this store.
  explicit fault_store(storage::mail_store& inner) : inner_(inner) {}

  // Set to make every later call of that kind fail with the code (with the
  // message "injected"), until reset.
  std::optional<storage::errc> fail_ensure_user;
  std::optional<storage::errc> fail_append;
  std::optional<storage::errc> fail_list_messages;
  std::optional<storage::errc> fail_read;  // read_message
  std::optional<storage::errc> fail_store_flags;
  std::optional<storage::errc> fail_expunge;
  // ensure_user() fails for these names, exactly as asked (no case folding).
  std::map<std::string, storage::errc, std::less<>> fail_ensure_user_for;

  // Calls so far, the failed ones included.
  int append_calls = 0;
  int expunge_calls = 0;
  int get_message_calls = 0;
  int store_flags_calls = 0;
  // The length asked of each read_message call, in order.
  std::vector<std::uint64_t> read_lengths;

  // Forgets the counts so far (not the faults).
  void reset_counts() {
    append_calls = expunge_calls = get_message_calls = store_flags_calls = 0;
    read_lengths.clear();
  }

  storage::result<storage::user_id> ensure_user(std::string_view name) override {
    if (fail_ensure_user) return injected(*fail_ensure_user);
    if (auto it = fail_ensure_user_for.find(name); it != fail_ensure_user_for.end()) {
      return injected(it->second);
    }
    return inner_.ensure_user(name);
  }
  storage::result<storage::user_id> find_user(std::string_view name) override {
    return inner_.find_user(name);
  }
  storage::result<std::vector<std::string>> list_users() override { return inner_.list_users(); }
  storage::result<std::vector<storage::mailbox_info>> list_mailboxes(
      storage::user_id user) override {
    return inner_.list_mailboxes(user);
  }
  storage::result<storage::mailbox_info> get_mailbox(storage::user_id user,
                                                     std::string_view name) override {
    return inner_.get_mailbox(user, name);
  }
  storage::result<storage::mailbox_info> get_mailbox(storage::mailbox_id mailbox) override {
    return inner_.get_mailbox(mailbox);
  }
  storage::result<storage::mailbox_info> create_mailbox(storage::user_id user,
                                                        std::string_view name,
                                                        std::uint8_t special_use) override {
    return inner_.create_mailbox(user, name, special_use);
  }
  storage::status delete_mailbox(storage::user_id user, std::string_view name) override {
    return inner_.delete_mailbox(user, name);
  }
  storage::status rename_mailbox(storage::user_id user, std::string_view from,
                                 std::string_view to) override {
    return inner_.rename_mailbox(user, from, to);
  }
  storage::status set_special_use(storage::user_id user, std::string_view name,
                                  std::uint8_t uses) override {
    return inner_.set_special_use(user, name, uses);
  }
  storage::status set_subscribed(storage::user_id user, std::string_view name,
                                 bool subscribed) override {
    return inner_.set_subscribed(user, name, subscribed);
  }
  storage::result<std::vector<std::string>> list_subscriptions(storage::user_id user) override {
    return inner_.list_subscriptions(user);
  }
  storage::result<std::vector<storage::appended>> append(
      const storage::append_request& request) override {
    ++append_calls;
    if (fail_append) return injected(*fail_append);
    return inner_.append(request);
  }
  storage::result<std::vector<storage::message_info>> list_messages(
      storage::mailbox_id mailbox) override {
    if (fail_list_messages) return injected(*fail_list_messages);
    return inner_.list_messages(mailbox);
  }
  storage::result<storage::message_info> get_message(storage::mailbox_id mailbox,
                                                     storage::imap_uid uid) override {
    ++get_message_calls;
    return inner_.get_message(mailbox, uid);
  }
  storage::result<std::string> read_message(storage::mailbox_id mailbox, storage::imap_uid uid,
                                            std::uint64_t offset, std::uint64_t length) override {
    read_lengths.push_back(length);
    if (fail_read) return injected(*fail_read);
    return inner_.read_message(mailbox, uid, offset, length);
  }
  storage::result<storage::mime::message_structure> read_structure(storage::mailbox_id mailbox,
                                                                   storage::imap_uid uid) override {
    return inner_.read_structure(mailbox, uid);
  }
  storage::result<storage::copy_result> copy(storage::mailbox_id from,
                                             std::span<const storage::imap_uid> uids,
                                             storage::mailbox_id to, bool move) override {
    return inner_.copy(from, uids, to, move);
  }
  storage::result<storage::flag_result> store_flags(storage::mailbox_id mailbox,
                                                    std::span<const storage::imap_uid> uids,
                                                    const storage::flag_change& change) override {
    ++store_flags_calls;
    if (fail_store_flags) return injected(*fail_store_flags);
    return inner_.store_flags(mailbox, uids, change);
  }
  storage::result<std::vector<storage::imap_uid>> expunge(
      storage::mailbox_id mailbox, std::span<const storage::imap_uid> uids) override {
    ++expunge_calls;
    if (fail_expunge) return injected(*fail_expunge);
    return inner_.expunge(mailbox, uids);
  }
  storage::result<std::vector<storage::change>> changes_since(storage::mailbox_id mailbox,
                                                              storage::modseq_t since) override {
    return inner_.changes_since(mailbox, since);
  }
  std::unique_ptr<storage::watch_handle> watch(storage::mailbox_id mailbox,
                                               storage::change_callback callback) override {
    return inner_.watch(mailbox, std::move(callback));
  }
  storage::result<storage::store_stats> stats() override { return inner_.stats(); }

 private:
  static storage::status injected(storage::errc code) { return storage::status(code, "injected"); }

  storage::mail_store& inner_;
};

}  // namespace packmail::protocols::testing
