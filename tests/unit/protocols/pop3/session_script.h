// Drives pop3::session in-process over a memory store with transcripts:
//
//   run(c, R"(
//     C: USER alice
//     S: +OK Send the password
//     C: PASS secret
//     S: +OK Logged in; {*}
//   )");
//
// The script syntax and the runner are shared (../transcript.h); this file
// brings the POP3 test_server (over a fault-injecting store) and client.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../transcript.h"
#include "packmail/protocols/pop3/session.h"
#include "packmail/storage/store.h"

namespace packmail::protocols::pop3::testing {

// The shared transcript support (../transcript.h), here for this protocol's tests.
using protocols::testing::check_lines;
using protocols::testing::feed_session;
using protocols::testing::glob_match;
using protocols::testing::lower_ascii;
using protocols::testing::output_record;
using protocols::testing::run;
using protocols::testing::split_lines;

// A mail_store that forwards to another and fails chosen calls on request,
// for the storage-error paths (SYS/TEMP, SYS/PERM).
class fault_store final : public storage::mail_store {
 public:
  explicit fault_store(storage::mail_store& inner) : inner_(inner) {}

  // Set to make the next calls of that kind fail with the code.
  std::optional<storage::errc> fail_expunge;
  std::optional<storage::errc> fail_read;
  std::optional<storage::errc> fail_list_messages;
  std::optional<storage::errc> fail_store_flags;
  std::optional<storage::errc> fail_ensure_user;
  int expunge_calls = 0;

  storage::result<storage::user_id> ensure_user(std::string_view name) override {
    if (fail_ensure_user) return storage::status(*fail_ensure_user, "injected");
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
    return inner_.append(request);
  }
  storage::result<std::vector<storage::message_info>> list_messages(
      storage::mailbox_id mailbox) override {
    if (fail_list_messages) return storage::status(*fail_list_messages, "injected");
    return inner_.list_messages(mailbox);
  }
  storage::result<storage::message_info> get_message(storage::mailbox_id mailbox,
                                                     storage::imap_uid uid) override {
    return inner_.get_message(mailbox, uid);
  }
  storage::result<std::string> read_message(storage::mailbox_id mailbox, storage::imap_uid uid,
                                            std::uint64_t offset, std::uint64_t length) override {
    if (fail_read) return storage::status(*fail_read, "injected");
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
    if (fail_store_flags) return storage::status(*fail_store_flags, "injected");
    return inner_.store_flags(mailbox, uids, change);
  }
  storage::result<std::vector<storage::imap_uid>> expunge(
      storage::mailbox_id mailbox, std::span<const storage::imap_uid> uids) override {
    ++expunge_calls;
    if (fail_expunge) return storage::status(*fail_expunge, "injected");
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
  storage::mail_store& inner_;
};

// A store and the configuration every test session shares. Any user's
// password is "secret"; the canonical name is the lower-case one.
struct test_server {
  std::unique_ptr<storage::mail_store> memory = storage::open_memory_store();
  fault_store store{*memory};
  session_config config;

  test_server() {
    config.store = &store;
    config.authenticate = [](std::string_view user,
                             std::string_view password) -> std::optional<std::string> {
      if (password != "secret" || user.empty()) return std::nullopt;
      return lower_ascii(user);
    };
  }

  storage::user_id user(std::string_view name) { return memory->ensure_user(name).value(); }
  storage::mailbox_info inbox(std::string_view user_name = "alice") {
    return memory->get_mailbox(user(user_name), "INBOX").value();
  }
  // Delivers `message` to the user's INBOX (LF line ends become CRLF unless
  // raw) and returns its UID.
  storage::imap_uid deliver(std::string_view message, std::string_view user_name = "alice",
                            bool raw = false) {
    std::string bytes;
    for (char c : message) {
      if (c == '\n' && !raw) bytes += '\r';
      bytes += c;
    }
    storage::append_request request;
    request.message = bytes;
    storage::append_target target;
    target.mailbox = inbox(user_name).id;
    request.targets.push_back(std::move(target));
    return memory->append(request).value().front().uid;
  }
  // The UIDs in the user's INBOX now.
  std::vector<storage::imap_uid> uids(std::string_view user_name = "alice") {
    std::vector<storage::imap_uid> out;
    const auto messages = memory->list_messages(inbox(user_name).id);
    for (const auto& m : messages.value()) out.push_back(m.uid);
    return out;
  }
};

// One connection. Default: loopback, no TLS.
class client {
 public:
  explicit client(test_server& server, connection_info info = {"127.0.0.1", 40000, false, true})
      : session_(std::make_unique<pop3::session>(server.config, std::move(info), [] {})) {
    greeting_ = session_->greeting().bytes;
  }

  const std::string& greeting() const { return greeting_; }
  pop3::session& session() { return *session_; }
  bool closed() const { return record_.closed; }
  bool start_tls_requested() const { return record_.start_tls; }
  // The output::delay of every call so far, in order.
  const std::vector<std::chrono::milliseconds>& delays() const { return record_.delays; }
  // How often the session asked to be called again (output::more).
  int more_calls() const { return record_.more_calls; }
  // Ends the connection without QUIT (the server drops the session).
  void drop() { session_.reset(); }

  // Feeds bytes whole (or one byte at a time) and returns all the output
  // (feed_session).
  std::string send(std::string_view bytes, bool byte_by_byte = false) {
    return feed_session(*session_, bytes, byte_by_byte, record_);
  }

 private:
  std::unique_ptr<pop3::session> session_;
  std::string greeting_;
  output_record record_;
};

// Logs in as `user` with USER/PASS and checks the reply.
inline void login(client& c, std::string_view user = "alice") {
  run(c, "C: USER " + std::string(user) + "\nS: +OK Send the password\nC: PASS secret\n" +
             "S: +OK Logged in; {*}\n");
}

// The UIDL of `uid` in `box` (Dovecot's %08Xu%08Xv).
inline std::string uidl_of(storage::imap_uid uid, const storage::mailbox_info& box) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%08X%08X", static_cast<unsigned>(uid),
                static_cast<unsigned>(box.uidvalidity));
  return buffer;
}

}  // namespace packmail::protocols::pop3::testing
