// The session every client listener serves until its protocol is implemented:
// it greets with the protocol's standard "service not available" reply and
// closes. It implements the full session contract, so the server's listener,
// TLS and shutdown plumbing run exactly as they will for real sessions.
//
//   IMAP (RFC 3501 7.1.5, RFC 5530 UNAVAILABLE): * BYE [UNAVAILABLE] ...
//   POP3 (RFC 2449 8.1.2, RFC 3206 SYS/TEMP):    -ERR [SYS/TEMP] ...
//   LMTP (RFC 5321 3.8, RFC 3463 4.3.2):          421 4.3.2 <host> Service not available
//
// It also holds each protocol's reply to a connection refused by the
// connection limits (refusal_text()), until the protocol libraries own it.
#pragma once

#include <memory>
#include <string>

#include "packmail/protocols/session.h"

namespace packmail::server {

enum class protocol_kind { imap, pop3, lmtp };

class unavailable_session final : public protocols::session {
 public:
  unavailable_session(protocol_kind protocol, std::string host_name);

  protocols::output greeting() override;
  // Input after the greeting is ignored: the connection is closing.
  protocols::output on_input(std::string_view bytes) override;
  void on_tls_started() override {}
  protocols::output on_idle_timeout() override;
  protocols::output on_wake() override { return {}; }
  std::chrono::steady_clock::duration idle_timeout() const override {
    return std::chrono::seconds(30);
  }
  // The protocol's "shutting down" goodbye (see protocols::session), with close.
  protocols::output on_shutdown() override;

 private:
  protocol_kind protocol_;
  std::string host_name_;
};

// The refusal sent when the connection limits turn a client away
// (protocols::refusal_function), for both reasons:
//   IMAP (RFC 3501 7.1.5, RFC 5530): * BYE [UNAVAILABLE] Too many connections
//   POP3 (RFC 3206):                 -ERR [SYS/TEMP] Too many connections
//   LMTP (RFC 5321 3.8, RFC 3463):   421 4.7.0 Too many connections
std::string refusal_text(protocol_kind protocol, protocols::refusal_reason reason);

}  // namespace packmail::server
