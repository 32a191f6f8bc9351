// Drives pop3::session in-process over a memory store with transcripts:
//
//   run(c, R"(
//     C: USER alice
//     S: +OK Send the password
//     C: PASS secret
//     S: +OK Logged in; {*}
//   )");
//
// "C: " lines are client bytes (CRLF added); the "S: " lines after them are
// the exact server lines expected in answer to all the client lines before
// them; "{*}" in an S: line matches any run of characters. Like the IMAP
// runner (tests/unit/protocols/imap/session_script.h), for POP3.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "packmail/protocols/pop3/session.h"
#include "packmail/storage/store.h"

namespace packmail::protocols::pop3::testing {

inline std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

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
  bool closed() const { return closed_; }
  bool start_tls_requested() const { return start_tls_; }
  // The output::delay of every call so far, in order.
  const std::vector<std::chrono::milliseconds>& delays() const { return delays_; }
  // How often the session asked to be called again (output::more).
  int more_calls() const { return more_calls_; }
  // Ends the connection without QUIT (the server drops the session).
  void drop() { session_.reset(); }

  // Feeds bytes whole (or one byte at a time) and returns all the output,
  // calling again with no bytes while the session asks for it, as the
  // server does.
  std::string send(std::string_view bytes, bool byte_by_byte = false) {
    std::string out;
    auto take = [&](protocols::output o) {
      for (;;) {
        out += o.bytes;
        if (o.close) closed_ = true;
        if (o.start_tls) start_tls_ = true;
        delays_.push_back(o.delay);
        if (!o.more) break;
        ++more_calls_;
        o = session_->on_input({});
      }
    };
    if (byte_by_byte) {
      for (char c : bytes) take(session_->on_input(std::string_view(&c, 1)));
    } else {
      take(session_->on_input(bytes));
    }
    return out;
  }

 private:
  std::unique_ptr<pop3::session> session_;
  std::string greeting_;
  bool closed_ = false;
  bool start_tls_ = false;
  std::vector<std::chrono::milliseconds> delays_;
  int more_calls_ = 0;
};

inline bool glob_match(std::string_view pattern, std::string_view text) {
  constexpr std::string_view k_any = "{*}";
  std::size_t star = pattern.find(k_any);
  if (star == std::string_view::npos) return pattern == text;
  if (text.substr(0, star) != pattern.substr(0, star)) return false;
  pattern.remove_prefix(star + k_any.size());
  text.remove_prefix(star);
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (glob_match(pattern, text.substr(i))) return true;
  }
  return false;
}

inline std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    std::size_t end = text.find("\r\n");
    if (end == std::string_view::npos) {
      lines.emplace_back(text);
      break;
    }
    lines.emplace_back(text.substr(0, end));
    text.remove_prefix(end + 2);
  }
  return lines;
}

// Checks that `actual` (server bytes) is exactly the expected lines.
inline void check_lines(const std::string& actual, const std::vector<std::string>& expected) {
  const auto lines = split_lines(actual);
  std::string want;
  for (const auto& e : expected) want += e + "\r\n";
  INFO("expected:\n" << want << "actual:\n" << actual);
  bool same = lines.size() == expected.size() && (actual.empty() || actual.ends_with("\r\n"));
  for (std::size_t i = 0; same && i < lines.size(); ++i) same = glob_match(expected[i], lines[i]);
  CHECK(same);
}

// Runs a C:/S: transcript (leading blanks of each line are ignored).
inline void run(client& c, std::string_view script, bool byte_by_byte = false) {
  std::string input;
  std::vector<std::string> expected;
  bool have_step = false;
  auto flush = [&] {
    if (!have_step) return;
    check_lines(c.send(input, byte_by_byte), expected);
    input.clear();
    expected.clear();
    have_step = false;
  };
  std::istringstream lines{std::string(script)};
  std::string line;
  while (std::getline(lines, line)) {
    std::string_view l = line;
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
    if (l.starts_with("C: ")) {
      if (!expected.empty()) flush();
      input += std::string(l.substr(3)) + "\r\n";
      have_step = true;
    } else if (l == "C:") {
      if (!expected.empty()) flush();
      input += "\r\n";
      have_step = true;
    } else if (l.starts_with("S: ")) {
      expected.emplace_back(l.substr(3));
      have_step = true;
    } else if (l == "S:") {
      expected.emplace_back();
      have_step = true;
    } else if (!l.empty()) {
      FAIL("bad script line: " << line);
    }
  }
  flush();
}

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
