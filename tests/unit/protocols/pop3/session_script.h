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

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../fault_store.h"
#include "../transcript.h"
#include "packmail/protocols/pop3/session.h"
#include "packmail/storage/store.h"

namespace packmail::protocols::pop3::testing {

// The shared test support (../transcript.h, ../fault_store.h).
using namespace protocols::testing;

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
    const std::string bytes = raw ? std::string(message) : crlf(message);
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
      : client(server.config, std::move(info)) {}
  // A session made from `config` (copied) instead of the server's.
  explicit client(const session_config& config,
                  connection_info info = {"127.0.0.1", 40000, false, true})
      : session_(std::make_unique<pop3::session>(config, std::move(info), [] {})) {
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
