// The IMAP4rev1 session (RFC 3501): a sans-I/O state machine over the mail
// store. The server feeds it received bytes and sends what it answers
// (protocols/session.h); the session never touches a socket and never
// depends on server/: authentication goes through session_config::authenticate.
//
// Thread-safety: as protocols::session: one thread at a time per session; the
// wake function may be called from any thread (store watch callbacks).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "packmail/protocols/imap/parser.h"
#include "packmail/protocols/session.h"
#include "packmail/storage/store.h"

namespace packmail::protocols::imap {

// Checks a user name and password (protocols/session.h).
using protocols::authenticator;

// RFC 3501 2.3.2 \Recent: a message is recent in the one session that is
// first told about it. Shared by all IMAP sessions of a server. Kept in memory
// only: after a restart, the first SELECT of a mailbox claims nothing (a
// message delivered before then is not recent). IMAP4rev2 dropped \Recent.
//
// Thread-safety: all methods may be called concurrently.
class recent_registry {
 public:
  // Claims for the caller every UID below `uidnext` not claimed before, and
  // returns the first one claimed (== uidnext when none). A mailbox seen for
  // the first time claims nothing.
  storage::imap_uid claim(storage::mailbox_id mailbox, storage::imap_uid uidnext);
  // The first UID no session has claimed (for EXAMINE and STATUS, which do
  // not claim), or nullopt for a mailbox never selected.
  std::optional<storage::imap_uid> first_unclaimed(storage::mailbox_id mailbox) const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<storage::mailbox_id, storage::imap_uid> first_unclaimed_;
};

struct session_config {
  // Not owned; must outlive every session. Required.
  storage::mail_store* store = nullptr;
  // Required; a session without it refuses every login.
  authenticator authenticate;
  // Text of the greeting after "* OK [CAPABILITY ...] ". Default: "packmail ready".
  std::string greeting = "packmail ready";
  // Inactivity before autologout once authenticated. RFC 3501 5.4: at least
  // 30 minutes. Default: 30 min.
  std::chrono::steady_clock::duration idle_timeout = std::chrono::minutes(30);
  // Inactivity before autologout while not authenticated. Default: 60 s.
  std::chrono::steady_clock::duration login_timeout = std::chrono::seconds(60);
  // Failed LOGIN/AUTHENTICATE attempts before "* BYE" and close. Default: 3.
  unsigned max_auth_failures = 3;
  // The pause before answering a failed login, growing with each failure
  // (protocols::auth_failure_delay). Default: 2 s.
  std::chrono::milliseconds auth_failure_delay{2000};
  // Commands run in one call before the session asks the server to send
  // their replies first (output::more): a client pipelining thousands of
  // commands is served in steps, never buffered whole. Default: 32.
  std::size_t max_pipelined_commands = 32;
  // Who sees \Recent; shared by every session of the server. Default (null):
  // no message is ever recent.
  std::shared_ptr<recent_registry> recent;
  // Allow LOGIN and AUTHENTICATE PLAIN on an unencrypted, non-loopback
  // connection (else LOGINDISABLED, RFC 3501 6.2.3). Default: true.
  bool allow_plaintext_auth = true;
  // The server can run a TLS handshake on request: advertise STARTTLS.
  // Default: false.
  bool starttls_available = false;
  parser_limits limits;
};

class session_context;  // protocols/imap/session_context.h

class session final : public protocols::session {
 public:
  session(session_config config, connection_info connection, wake_function wake);
  ~session() override;
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  output greeting() override;
  output on_input(std::string_view bytes) override;
  void on_tls_started() override;
  output on_idle_timeout() override;
  output on_wake() override;
  std::chrono::steady_clock::duration idle_timeout() const override;
  output on_shutdown() override;

 private:
  std::unique_ptr<session_context> context_;
};

// The line refusing a connection before any session exists (RFC 5530
// UNAVAILABLE), for the server's refusal_function.
std::string refusal(refusal_reason reason);

}  // namespace packmail::protocols::imap
