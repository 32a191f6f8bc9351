// The primary's store in front of the segment store: every mutation wakes the
// WAL senders and, in sync mode, is acknowledged only once a mirror has it
// durably (STORAGE-REPLICATION.md section 5, "Before LMTP 250 / APPEND OK").
#include <chrono>

#include "packmail/replication/replication.h"

namespace packmail::replication {
namespace {

using namespace packmail::storage;

class replicated_store final : public mail_store {
 public:
  replicated_store(mail_store& inner, primary& replication)
      : inner_(inner), replication_(replication) {}

  result<user_id> ensure_user(std::string_view name) override {
    // Logging in names an existing user: no write, nothing to wait for.
    if (auto found = timed([&] { return inner_.find_user(name); }); found.ok()) return found;
    return mutate([&] { return inner_.ensure_user(name); });
  }
  result<user_id> find_user(std::string_view name) override {
    return timed([&] { return inner_.find_user(name); });
  }
  result<std::vector<std::string>> list_users() override {
    return timed([&] { return inner_.list_users(); });
  }
  result<std::vector<mailbox_info>> list_mailboxes(user_id user) override {
    return timed([&] { return inner_.list_mailboxes(user); });
  }
  result<mailbox_info> get_mailbox(user_id user, std::string_view name) override {
    return timed([&] { return inner_.get_mailbox(user, name); });
  }
  result<mailbox_info> get_mailbox(mailbox_id mailbox) override {
    return timed([&] { return inner_.get_mailbox(mailbox); });
  }
  result<mailbox_info> create_mailbox(user_id user, std::string_view name,
                                      std::uint8_t special_use) override {
    return mutate([&] { return inner_.create_mailbox(user, name, special_use); });
  }
  status delete_mailbox(user_id user, std::string_view name) override {
    return mutate([&] { return inner_.delete_mailbox(user, name); });
  }
  status rename_mailbox(user_id user, std::string_view from, std::string_view to) override {
    return mutate([&] { return inner_.rename_mailbox(user, from, to); });
  }
  status set_special_use(user_id user, std::string_view name, std::uint8_t uses) override {
    return mutate([&] { return inner_.set_special_use(user, name, uses); });
  }
  status set_subscribed(user_id user, std::string_view name, bool subscribed) override {
    return mutate([&] { return inner_.set_subscribed(user, name, subscribed); });
  }
  result<std::vector<std::string>> list_subscriptions(user_id user) override {
    return timed([&] { return inner_.list_subscriptions(user); });
  }
  result<std::vector<appended>> append(const append_request& request) override {
    return mutate([&] { return inner_.append(request); });
  }
  result<std::vector<message_info>> list_messages(mailbox_id mailbox) override {
    return timed([&] { return inner_.list_messages(mailbox); });
  }
  result<message_info> get_message(mailbox_id mailbox, imap_uid uid) override {
    return timed([&] { return inner_.get_message(mailbox, uid); });
  }
  result<std::string> read_message(mailbox_id mailbox, imap_uid uid, std::uint64_t offset,
                                   std::uint64_t length) override {
    return timed([&] { return inner_.read_message(mailbox, uid, offset, length); });
  }
  result<mime::message_structure> read_structure(mailbox_id mailbox, imap_uid uid) override {
    return timed([&] { return inner_.read_structure(mailbox, uid); });
  }
  result<copy_result> copy(mailbox_id from, std::span<const imap_uid> uids, mailbox_id to,
                           bool move) override {
    return mutate([&] { return inner_.copy(from, uids, to, move); });
  }
  result<flag_result> store_flags(mailbox_id mailbox, std::span<const imap_uid> uids,
                                  const flag_change& change) override {
    return mutate([&] { return inner_.store_flags(mailbox, uids, change); });
  }
  result<std::vector<imap_uid>> expunge(mailbox_id mailbox,
                                        std::span<const imap_uid> uids) override {
    return mutate([&] { return inner_.expunge(mailbox, uids); });
  }
  result<std::vector<change>> changes_since(mailbox_id mailbox, modseq_t since) override {
    return timed([&] { return inner_.changes_since(mailbox, since); });
  }
  std::unique_ptr<watch_handle> watch(mailbox_id mailbox, change_callback callback) override {
    return inner_.watch(mailbox, std::move(callback));
  }
  result<store_stats> stats() override { return inner_.stats(); }

 private:
  template <class F>
  auto timed(F&& f) -> decltype(f()) {
    const auto start = std::chrono::steady_clock::now();
    auto r = f();
    replication_.record_latency(std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start));
    return r;
  }

  // Refused up front while no mirror is in sync (nothing is written then);
  // after a successful write, waits for a mirror's acknowledgement of
  // everything committed so far, which includes this write (a WriteBatch has
  // no sequence of its own to wait for).
  template <class F>
  auto mutate(F&& f) -> decltype(f()) {
    const bool sync = replication_.mode() == durability::sync;
    if (sync && !replication_.in_sync()) {
      return status(errc::temporary, "no mirror in sync (sync replication)");
    }
    auto r = timed(std::forward<F>(f));
    if (!r.ok()) return r;
    const std::uint64_t seq = replication_.latest_sequence();
    replication_.notify_commit();
    if (sync) {
      if (auto s = replication_.wait_durable(seq); !s.ok()) return s;
    }
    return r;
  }

  mail_store& inner_;
  primary& replication_;
};

}  // namespace

std::unique_ptr<mail_store> make_replicated_store(mail_store& inner, primary& replication) {
  return std::make_unique<replicated_store>(inner, replication);
}

}  // namespace packmail::replication
