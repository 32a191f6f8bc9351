// The POP3 session (RFC 1939 with RFC 2449 CAPA, TOP, UIDL, USER,
// PIPELINING, RESP-CODES, AUTH-RESP-CODE (RFC 3206), SASL PLAIN (RFC 5034,
// RFC 4616) and STLS (RFC 2595)): a sans-I/O state machine over the mail
// store. The server feeds it received bytes and sends what it answers
// (protocols/session.h); the session never touches a socket and never
// depends on server/: authentication goes through session_config::authenticate.
//
// The maildrop is the user's INBOX. Its message list is a snapshot taken at
// login: messages delivered later are not seen by this session (RFC 1939 8).
// DELE only marks; the marked messages are expunged from the store at QUIT
// (the UPDATE state), and on no other path: a dropped connection, a timeout
// or a shutdown deletes nothing. Messages that RETR retrieved get \Seen at
// QUIT as well (Dovecot's default), best effort.
//
// UIDL: the message's UID then the mailbox's UIDVALIDITY, each as 8
// upper-case hex digits ("0000002A5F3C1B00"), Dovecot's default format, so
// a mailbox migrated from Dovecot with its UIDs keeps its UIDLs.
//
// Thread-safety: as protocols::session: one thread at a time per session.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "packmail/protocols/pop3/maildrop_locks.h"
#include "packmail/protocols/pop3/parser.h"
#include "packmail/protocols/session.h"
#include "packmail/storage/store.h"

namespace packmail::protocols::pop3 {

// Checks a user name and password (protocols/session.h).
using protocols::authenticator;

struct session_config {
  // Not owned; must outlive every session. Required.
  storage::mail_store* store = nullptr;
  // Required; a session without it refuses every login.
  authenticator authenticate;
  // Text of the greeting after "+OK ". Default: "packmail POP3 ready".
  std::string greeting = "packmail POP3 ready";
  // Inactivity before the session ends once logged in. RFC 1939 3: at least
  // 10 minutes. Default: 10 min.
  std::chrono::steady_clock::duration idle_timeout = std::chrono::minutes(10);
  // Inactivity before the session ends while not logged in. Default: 60 s.
  std::chrono::steady_clock::duration login_timeout = std::chrono::seconds(60);
  // Failed logins (PASS, AUTH) before the session answers and closes.
  // Default: 3.
  unsigned max_auth_failures = 3;
  // Base of the pause before answering a failed login (output::delay, see
  // protocols::auth_failure_delay()). Default: 2 s.
  std::chrono::milliseconds auth_failure_delay{2000};
  // Allow USER/PASS and AUTH PLAIN on an unencrypted, non-loopback
  // connection. When false, they are refused there with "-ERR [AUTH] ...
  // STLS first" and CAPA does not list USER and SASL (like Dovecot's
  // disable_plaintext_auth). Default: true.
  bool allow_plaintext_auth = true;
  // The server can run a TLS handshake on request: offer STLS (when the
  // connection is not already encrypted). Default: false.
  bool stls_available = false;
  // Longest command or SASL response line, CRLF excluded. Default: 8 KiB
  // (see parser.h).
  std::size_t max_line = k_default_max_line;
  // Commands run in one call before the session asks the server to send
  // their replies first (output::more): pipelined commands (RFC 2449 6.6)
  // are served in steps, never buffered whole. A call also stops once its
  // replies reach 1 MiB (a few RETRs). Default: 32.
  std::size_t max_pipelined_commands = 32;
  // Maildrops held by POP3 sessions. Sessions made from copies of one
  // session_config share one registry: the server must make its sessions
  // from one config (or give them the same registry). Null makes the session
  // use a registry of its own, which excludes no other session.
  // Default: a new registry.
  std::shared_ptr<maildrop_locks> locks = std::make_shared<maildrop_locks>();
};

class session_context;  // protocols/pop3/session_context.h

class session final : public protocols::session {
 public:
  session(session_config config, connection_info connection, wake_function wake);
  // Releases the maildrop, deleting nothing.
  ~session() override;
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // "+OK <greeting>".
  output greeting() override;
  output on_input(std::string_view bytes) override;
  void on_tls_started() override;
  // "-ERR Disconnected for inactivity" and close; nothing is deleted.
  output on_idle_timeout() override;
  // POP3 has no asynchronous news: always empty.
  output on_wake() override;
  // login_timeout before login, idle_timeout after.
  std::chrono::steady_clock::duration idle_timeout() const override;
  // "-ERR [SYS/TEMP] Server shutting down" and close; nothing is deleted.
  output on_shutdown() override;

 private:
  std::unique_ptr<session_context> context_;
};

// The line refusing a connection before any session exists (RFC 3206
// SYS/TEMP), for the server's refusal_function.
std::string refusal(refusal_reason reason);

}  // namespace packmail::protocols::pop3
