// A mail_store that forwards everything to a memory store but fails on
// command: append() with a chosen error, ensure_user() for chosen names.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "packmail/storage/store.h"

namespace packmail::protocols::lmtp::testing {

class failing_store final : public storage::mail_store {
 public:
  std::unique_ptr<storage::mail_store> inner = storage::open_memory_store();
  std::optional<storage::errc> append_error;
  std::map<std::string, storage::errc> ensure_user_errors;  // by name as asked
  int appends = 0;

  storage::result<storage::user_id> ensure_user(std::string_view name) override {
    if (auto it = ensure_user_errors.find(std::string(name)); it != ensure_user_errors.end()) {
      return storage::status(it->second, "injected");
    }
    return inner->ensure_user(name);
  }
  storage::result<storage::user_id> find_user(std::string_view name) override {
    return inner->find_user(name);
  }
  storage::result<std::vector<std::string>> list_users() override { return inner->list_users(); }
  storage::result<std::vector<storage::mailbox_info>> list_mailboxes(
      storage::user_id user) override {
    return inner->list_mailboxes(user);
  }
  storage::result<storage::mailbox_info> get_mailbox(storage::user_id user,
                                                     std::string_view name) override {
    return inner->get_mailbox(user, name);
  }
  storage::result<storage::mailbox_info> get_mailbox(storage::mailbox_id mailbox) override {
    return inner->get_mailbox(mailbox);
  }
  storage::result<storage::mailbox_info> create_mailbox(storage::user_id user,
                                                        std::string_view name,
                                                        std::uint8_t special_use) override {
    return inner->create_mailbox(user, name, special_use);
  }
  storage::status delete_mailbox(storage::user_id user, std::string_view name) override {
    return inner->delete_mailbox(user, name);
  }
  storage::status rename_mailbox(storage::user_id user, std::string_view from,
                                 std::string_view to) override {
    return inner->rename_mailbox(user, from, to);
  }
  storage::status set_special_use(storage::user_id user, std::string_view name,
                                  std::uint8_t uses) override {
    return inner->set_special_use(user, name, uses);
  }
  storage::status set_subscribed(storage::user_id user, std::string_view name,
                                 bool subscribed) override {
    return inner->set_subscribed(user, name, subscribed);
  }
  storage::result<std::vector<std::string>> list_subscriptions(storage::user_id user) override {
    return inner->list_subscriptions(user);
  }
  storage::result<std::vector<storage::appended>> append(
      const storage::append_request& request) override {
    ++appends;
    if (append_error) return storage::status(*append_error, "injected");
    return inner->append(request);
  }
  storage::result<std::vector<storage::message_info>> list_messages(
      storage::mailbox_id mailbox) override {
    return inner->list_messages(mailbox);
  }
  storage::result<storage::message_info> get_message(storage::mailbox_id mailbox,
                                                     storage::imap_uid uid) override {
    return inner->get_message(mailbox, uid);
  }
  storage::result<std::string> read_message(storage::mailbox_id mailbox, storage::imap_uid uid,
                                            std::uint64_t offset, std::uint64_t length) override {
    return inner->read_message(mailbox, uid, offset, length);
  }
  storage::result<storage::mime::message_structure> read_structure(storage::mailbox_id mailbox,
                                                                   storage::imap_uid uid) override {
    return inner->read_structure(mailbox, uid);
  }
  storage::result<storage::copy_result> copy(storage::mailbox_id from,
                                             std::span<const storage::imap_uid> uids,
                                             storage::mailbox_id to, bool move) override {
    return inner->copy(from, uids, to, move);
  }
  storage::result<storage::flag_result> store_flags(storage::mailbox_id mailbox,
                                                    std::span<const storage::imap_uid> uids,
                                                    const storage::flag_change& change) override {
    return inner->store_flags(mailbox, uids, change);
  }
  storage::result<std::vector<storage::imap_uid>> expunge(
      storage::mailbox_id mailbox, std::span<const storage::imap_uid> uids) override {
    return inner->expunge(mailbox, uids);
  }
  storage::result<std::vector<storage::change>> changes_since(storage::mailbox_id mailbox,
                                                              storage::modseq_t since) override {
    return inner->changes_since(mailbox, since);
  }
  std::unique_ptr<storage::watch_handle> watch(storage::mailbox_id mailbox,
                                               storage::change_callback callback) override {
    return inner->watch(mailbox, std::move(callback));
  }
  storage::result<storage::store_stats> stats() override { return inner->stats(); }
};

}  // namespace packmail::protocols::lmtp::testing
