// The contract between a sans-I/O protocol session (IMAP, POP3, LMTP) and the
// server that owns its connection. A session never touches a socket: the
// server feeds it received bytes and sends what it answers.
//
// Threading: the server calls one session from one thread at a time (a
// per-connection strand on a worker pool, since a session may call the store,
// which may block on disk). wake() may be called from any thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace packmail::protocols {

// What the server must do after a call into the session.
struct output {
  std::string bytes;       // send these, in order
  bool start_tls = false;  // after sending, run the TLS handshake (STARTTLS/STLS)
  bool close = false;      // after sending, close the connection
  // Wait this long before sending bytes (a failed login's penalty). The
  // connection reads no input and makes no other session call meanwhile;
  // other connections are not slowed. Default: none.
  std::chrono::milliseconds delay{0};
  // The session stopped at its limit of commands per call and keeps the rest
  // of the input: once bytes are sent, call on_input() with no bytes (and
  // again while it answers more) before reading from the connection again.
  bool more = false;
};

// The pause before answering the n-th failed authentication of a connection
// (n >= 1): base, then doubling with each failure, at most 16 times base, so
// a password-guessing client slows down while a typo costs little.
constexpr std::chrono::milliseconds auth_failure_delay(std::chrono::milliseconds base,
                                                       unsigned failures) {
  const unsigned doublings = failures == 0 ? 0 : std::min(failures - 1, 4u);
  return base * (1u << doublings);
}

struct connection_info {
  std::string remote_address;  // "127.0.0.1", "::1", or "unix" for a unix socket
  std::uint16_t remote_port = 0;
  bool tls = false;       // the connection is (now) encrypted
  bool loopback = false;  // the peer is on this machine
};

// Checks a user name and password; returns the canonical user name (the one
// the store knows) or nullopt on failure. May be called from any thread.
// The IMAP and POP3 sessions' session_config::authenticate.
using authenticator =
    std::function<std::optional<std::string>(std::string_view user, std::string_view password)>;

// Whether a clear-text password (IMAP LOGIN and AUTHENTICATE PLAIN, POP3
// USER/PASS and AUTH PLAIN) may be sent on `connection`: always when
// allow_plaintext is set, else only over TLS or from this machine (RFC 3501
// 6.2.3 LOGINDISABLED; like Dovecot's disable_plaintext_auth).
inline bool plaintext_auth_allowed(bool allow_plaintext, const connection_info& connection) {
  return allow_plaintext || connection.tls || connection.loopback;
}

class session {
 public:
  virtual ~session() = default;
  // The banner, sent right after accept (and after an implicit-TLS handshake).
  virtual output greeting() = 0;
  // Received bytes, in order; any split is allowed.
  virtual output on_input(std::string_view bytes) = 0;
  // The TLS handshake requested by output::start_tls finished.
  virtual void on_tls_started() = 0;
  // The read deadline passed with no input (the session picks it, see
  // idle_timeout()); typically answers with a BYE and close.
  virtual output on_idle_timeout() = 0;
  // Asynchronous news (another session's append, IDLE): the server calls this
  // after the session's wake callback fired, and sends what it returns.
  virtual output on_wake() = 0;
  // How long the server waits for input before on_idle_timeout().
  virtual std::chrono::steady_clock::duration idle_timeout() const = 0;
  // The server is shutting down (SIGTERM/SIGINT, server::stop()): the
  // protocol's goodbye, sent before the connection closes. Called at most
  // once, after the greeting went out and after any call in flight has
  // returned (never concurrently with another call); not called when the
  // connection already ends for another reason (session close, peer EOF,
  // write error) or is closed by force. The server closes the connection
  // after sending the bytes whatever output::close says, and ignores
  // output::start_tls.
  //   IMAP (RFC 3501 7.1.5): * BYE Server shutting down
  //   POP3 (RFC 3206 SYS/TEMP): -ERR [SYS/TEMP] Server shutting down
  //   LMTP (RFC 5321 3.8): 421 4.3.2 <host> Server shutting down
  virtual output on_shutdown() = 0;
};

// Given to a session at creation: the session calls it (from any thread) when
// it has news for on_wake().
using wake_function = std::function<void()>;

// Why the server refuses a new connection without creating a session.
enum class refusal_reason {
  too_many_connections,               // the limit on open connections, all listeners
  too_many_connections_from_address,  // the limit on open connections from one IP address
};

// Each protocol's reply to a connection the server refuses before any
// session exists: one complete line, CRLF included, sent once in clear text
// before the server closes the connection. E.g. IMAP (RFC 5530):
// "* BYE [UNAVAILABLE] Too many connections\r\n". Called on an I/O thread,
// possibly concurrently: it must be quick, thread-safe and not block.
using refusal_function = std::function<std::string(refusal_reason)>;

}  // namespace packmail::protocols
