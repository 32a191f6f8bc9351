// Drives imap::session in-process over a memory store with transcripts:
//
//   run(c, R"(
//     C: a1 LOGIN alice secret
//     S: a1 OK [CAPABILITY {*}] Logged in
//   )");
//
// The script syntax and the runner are shared (../transcript.h); this file
// brings the IMAP test_server and client.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../transcript.h"
#include "packmail/protocols/imap/session.h"
#include "packmail/storage/store.h"

namespace packmail::protocols::imap::testing {

// The shared test support (../transcript.h).
using namespace protocols::testing;

// A store and the configuration every test session shares. Any user's
// password is "secret".
struct test_server {
  std::unique_ptr<storage::mail_store> store = storage::open_memory_store();
  session_config config;

  test_server() {
    config.store = store.get();
    config.recent = std::make_shared<recent_registry>();
    config.authenticate = [](std::string_view user,
                             std::string_view password) -> std::optional<std::string> {
      if (password != "secret" || user.empty()) return std::nullopt;
      return lower_ascii(user);
    };
  }

  storage::user_id user(std::string_view name) { return store->ensure_user(name).value(); }
  storage::mailbox_info mailbox(std::string_view user_name, std::string_view name) {
    return store->get_mailbox(user(user_name), name).value();
  }
  // Delivers `message` (LF line ends become CRLF) and returns its UID.
  storage::imap_uid deliver(std::string_view user_name, std::string_view box,
                            std::string_view message, std::uint8_t flags = 0,
                            std::int64_t internal_date = 0) {
    const std::string bytes = crlf(message);
    storage::append_request request;
    request.message = bytes;
    request.internal_date = internal_date;
    storage::append_target target;
    target.mailbox = mailbox(user_name, box).id;
    target.flags = flags;
    request.targets.push_back(std::move(target));
    return store->append(request).value().front().uid;
  }
};

// One connection.
class client {
 public:
  explicit client(test_server& server, connection_info info = {"127.0.0.1", 40000, false, true})
      : wakes_(std::make_shared<std::atomic<int>>(0)),
        session_(server.config, std::move(info), [w = wakes_] { ++*w; }) {
    greeting_ = session_.greeting().bytes;
  }

  const std::string& greeting() const { return greeting_; }
  imap::session& session() { return session_; }
  int wakes() const { return wakes_->load(); }
  bool closed() const { return record_.closed; }

  // Feeds bytes whole (or one byte at a time) and returns all the output
  // (feed_session).
  std::string send(std::string_view bytes, bool byte_by_byte = false) {
    return feed_session(session_, bytes, byte_by_byte, record_);
  }
  bool start_tls_requested() const { return record_.start_tls; }
  // The output::delay of every call so far, in order.
  const std::vector<std::chrono::milliseconds>& delays() const { return record_.delays; }
  // How often the session asked to be called again (output::more).
  int more_calls() const { return record_.more_calls; }

 private:
  output_record record_;
  std::shared_ptr<std::atomic<int>> wakes_;
  imap::session session_;
  std::string greeting_;
};

// Logs in as `user` (any case) and checks the reply.
inline void login(client& c, std::string_view user = "alice") {
  run(c, "C: l1 LOGIN " + std::string(user) + " secret\nS: l1 OK [CAPABILITY {*}] Logged in\n");
}

// Delivers three \Seen messages to alice's INBOX, logs in and selects it.
inline void select_three(test_server& server, client& c) {
  for (int i = 0; i < 3; ++i)
    server.deliver("alice", "INBOX", "Subject: m\n\nx\n", storage::flag_seen);
  login(c);
  run(c, R"(
    C: s1 SELECT INBOX
    S: * FLAGS {*}
    S: * OK [PERMANENTFLAGS {*}] Flags permitted
    S: * 3 EXISTS
    S: * 0 RECENT
    S: * OK [UIDVALIDITY {*}] UIDs valid
    S: * OK [UIDNEXT 4] Predicted next UID
    S: s1 OK [READ-WRITE] SELECT completed
  )");
}

}  // namespace packmail::protocols::imap::testing
