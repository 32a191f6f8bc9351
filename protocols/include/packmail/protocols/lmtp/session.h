// The LMTP session (RFC 2033): a sans-I/O state machine that takes mail from
// an MTA and delivers it into the store. The server feeds it received bytes
// and sends what it answers (protocols/session.h); the session never touches
// a socket and never depends on server/: recipients are resolved through
// session_config::resolve.
//
// Offered: LHLO, MAIL (SIZE, BODY=7BIT/8BITMIME), RCPT, DATA, RSET, NOOP,
// QUIT, VRFY (252), HELP; PIPELINING (RFC 2920), 8BITMIME (RFC 6152),
// ENHANCEDSTATUSCODES (RFC 2034, 3463), SIZE (RFC 1870). Not offered: CHUNKING
// (BDAT), STARTTLS, AUTH, DSN, SMTPUTF8.
//
// Delivery: after the final ".", one reply per accepted RCPT, in RCPT order
// (RFC 2033 4.2). The message is stored once, in one atomic append with one
// target per recipient (all or none are stored), each target with its own
// header prefix:
//
//   Return-Path: <sender>
//   Delivered-To: <recipient as sent>
//   Received: from <LHLO name> ([<client IP>])
//           by <host_name> with LMTP id <id>
//           for <recipient as sent>; <RFC 5322 date>
//
// A recipient whose resolved folder exists (exact name; INBOX in any case)
// gets the message there, else in INBOX; users are created on first delivery
// (mail_store::ensure_user). A recipient address given twice (in any case)
// gets one copy and the same reply twice, like Dovecot; different addresses
// of one user are separate deliveries.
//
// Thread-safety: as protocols::session: one thread at a time per session. The
// resolver is called on the session's thread, possibly from many sessions at
// once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "packmail/protocols/session.h"
#include "packmail/storage/store.h"

namespace packmail::protocols::lmtp {

// Where a recipient's mail goes.
struct recipient {
  std::string user;                   // the store's user name (created on first delivery)
  std::optional<std::string> folder;  // a mailbox name ("work" for alice+work@...), if any
};
// No such user: 550 5.1.1 at RCPT.
struct unknown_recipient {};
// The lookup could not be done now (user database unavailable): 451 4.3.0 at
// RCPT, so the MTA retries.
struct lookup_failure {};

using recipient_lookup = std::variant<recipient, unknown_recipient, lookup_failure>;

// Resolves the address of a RCPT TO: local_part unquoted ("alice+work"),
// domain as sent ("Example.COM"; empty for "<alice>"). Must be thread-safe.
using recipient_resolver =
    std::function<recipient_lookup(std::string_view local_part, std::string_view domain)>;

struct session_config {
  // Not owned; must outlive every session. Required.
  storage::mail_store* store = nullptr;
  // Required; without it every RCPT gets 451 4.3.0 (a configuration error
  // must not bounce mail).
  recipient_resolver resolve;
  // This server's name, in the greeting, LHLO reply, Received: and 221/421
  // replies. Default: "localhost".
  std::string host_name = "localhost";
  // Largest message accepted (advertised as SIZE; larger data gets 552 5.3.4
  // per recipient). Capped at 4 GiB - 1 MiB (the store's sizes are 32-bit).
  // Default: 64 MiB.
  std::uint64_t max_message_size = 64 * 1024 * 1024;
  // Longest command line, CRLF excluded (500 5.5.2 Line too long beyond).
  // Message lines are not limited, only max_message_size. Default: 4 KiB.
  std::size_t max_line = 4096;
  // Accepted RCPTs per transaction; more get 452 4.5.3. RFC 5321 4.5.3.1.8:
  // at least 100. Default: 500.
  std::size_t max_recipients = 500;
  // RFC 5321 4.5.3.2.7: 5 minutes between commands. Default: 5 min.
  std::chrono::steady_clock::duration idle_timeout = std::chrono::minutes(5);
  // Add a Received: line to each copy (like Dovecot's
  // lmtp_add_received_header). Default: true.
  bool add_received_header = true;
};

class session_context;  // protocols/lmtp/session_context.h

class session final : public protocols::session {
 public:
  session(session_config config, connection_info connection, wake_function wake);
  ~session() override;
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // "220 <host> packmail LMTP ready"
  output greeting() override;
  output on_input(std::string_view bytes) override;
  // No STARTTLS: never requested, nothing to do.
  void on_tls_started() override;
  // "421 4.4.2 <host> Timeout", then close.
  output on_idle_timeout() override;
  // LMTP has no asynchronous news: empty.
  output on_wake() override;
  std::chrono::steady_clock::duration idle_timeout() const override;
  // "421 4.3.2 <host> Server shutting down" (RFC 5321 3.8), then close.
  output on_shutdown() override;

 private:
  std::unique_ptr<session_context> context_;
};

// The line refusing a connection before any session exists, for the
// server's refusal_function: "421 4.3.2 Too many connections\r\n".
std::string refusal(refusal_reason reason);

}  // namespace packmail::protocols::lmtp
