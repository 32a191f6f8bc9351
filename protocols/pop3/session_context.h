// Inside the POP3 session: its state, the maildrop snapshot, and the command
// handlers (one file per family under commands/). Private to protocols/pop3.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "packmail/protocols/pop3/maildrop_locks.h"
#include "packmail/protocols/pop3/parser.h"
#include "packmail/protocols/pop3/session.h"
#include "responses.h"

namespace packmail::protocols::pop3 {

struct maildrop_message {
  storage::imap_uid uid = 0;
  std::uint32_t size = 0;  // message_info::size, as stored (CRLF line ends)
  bool deleted = false;    // marked by DELE, expunged at QUIT
  bool retrieved = false;  // sent by RETR: gets \Seen at QUIT
};

// The user's INBOX as listed at login (RFC 1939 8). Message n is messages[n - 1].
struct maildrop {
  storage::mailbox_id mailbox = 0;
  std::uint32_t uidvalidity = 0;
  std::vector<maildrop_message> messages;
  maildrop_locks::lease lease;  // held for the life of the transaction state

  // Messages not marked deleted, and their octets.
  std::uint32_t count() const;
  std::uint64_t octets() const;
  // "2 messages (320 octets)": count() and octets(), for the replies to a
  // login, LIST and RSET.
  std::string summary() const;
};

// RFC 1939 3: AUTHORIZATION.
struct authorization {
  unsigned failures = 0;
  std::optional<std::string> user;  // accepted by USER, waiting for PASS
};
// RFC 1939 3: TRANSACTION (UPDATE is the QUIT handler's work).
struct transaction {
  std::string user;
  maildrop drop;
};
// After QUIT, a timeout or a shutdown: the maildrop is released.
struct closed {};
using session_state = std::variant<authorization, transaction, closed>;

// Everything a command handler may use. Handlers write their whole response
// (status line and any multi-line body) to out.
class session_context {
 public:
  session_context(session_config c, connection_info info)
      : config(std::move(c)), connection(std::move(info)), parser(config.max_line) {}

  session_config config;
  connection_info connection;
  command_parser parser;  // in SASL mode while AUTH waits for a response line
  session_state state;

  std::string out;  // the response bytes of the current call
  bool close = false;
  bool start_tls = false;
  std::chrono::milliseconds delay{0};  // failed-login penalty of the current call
  std::string pending_input;           // input kept past the end of a call (output::more)

  storage::mail_store& store() { return *config.store; }
  void ok(std::string_view text) { append_ok(out, text); }
  void err(std::string_view text) { append_err(out, text); }

  // The maildrop of the transaction state, else nullptr.
  maildrop* drop();
  // USER/PASS and AUTH PLAIN may be used on this connection.
  bool plaintext_allowed() const;
  // "-ERR [AUTH] ..." for a refused plaintext login.
  std::string plaintext_refusal() const;
  // The CAPA lines, each with CRLF.
  std::string capabilities() const;
  // Checks the password and opens the maildrop; answers either way.
  void login(std::string_view user, std::string_view password);
  // Counts a failed login, sets the delay (the call ends with this reply),
  // answers, and closes after too many.
  void login_failed();
  // Ends the session: releases the maildrop (deleting nothing) and closes.
  void end();
};

// A decimal number of digits only (no sign, no spaces); nullopt when
// malformed. Values past 2^64 - 1 saturate to 2^64 - 1.
std::optional<std::uint64_t> parse_number(std::string_view text);
// The message number in `arg` (RFC 1939 3: 1..N, not marked deleted), or
// nullopt after answering -ERR.
std::optional<std::uint32_t> message_argument(session_context& ctx, std::string_view arg);

// Handlers. They write the response to ctx.out.
using command_handler = void (*)(session_context& ctx, const command& cmd);

// commands/auth.cpp
void handle_capa(session_context&, const command&);
void handle_user(session_context&, const command&);
void handle_pass(session_context&, const command&);
void handle_auth(session_context&, const command&);
void handle_apop(session_context&, const command&);
void handle_stls(session_context&, const command&);
// Continues AUTH PLAIN with the client's response line.
void continue_auth(session_context&, const sasl_response& response);
// commands/maildrop.cpp
void handle_stat(session_context&, const command&);
void handle_list(session_context&, const command&);
void handle_uidl(session_context&, const command&);
void handle_noop(session_context&, const command&);
void handle_dele(session_context&, const command&);
void handle_rset(session_context&, const command&);
// commands/retrieve.cpp
void handle_retr(session_context&, const command&);
void handle_top(session_context&, const command&);
// commands/quit.cpp
void handle_quit(session_context&, const command&);

}  // namespace packmail::protocols::pop3
