// Inside the LMTP session: its state, the transaction being built, and the
// command handlers (one file per family under commands/). Private to
// protocols/lmtp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "packmail/protocols/lmtp/arguments.h"
#include "packmail/protocols/lmtp/parser.h"
#include "packmail/protocols/lmtp/session.h"
#include "responses.h"

namespace packmail::protocols::lmtp {

// A RCPT that got 250.
struct accepted_recipient {
  address forward_path;  // as sent: for Delivered-To, Received and the replies
  recipient target;      // from the resolver
};

// Connected, no LHLO yet: only LHLO and the commands allowed anywhere.
struct awaiting_lhlo {};
// After LHLO (or RSET, or a finished transaction): waiting for MAIL.
struct ready {};
// After MAIL: RCPTs and DATA.
struct in_transaction {
  std::optional<address> sender;  // nullopt: the null reverse-path
  std::vector<accepted_recipient> recipients;
};
// After DATA's 354: the parser reads the message; no commands.
struct receiving_data {
  in_transaction transaction;
};
// After QUIT or a 421: nothing more is read.
struct closed {};
using session_state = std::variant<awaiting_lhlo, ready, in_transaction, receiving_data, closed>;

// Everything a command handler may use.
class session_context {
 public:
  session_context(session_config c, connection_info info);

  session_config config;
  connection_info connection;
  command_parser parser;
  session_state state;
  std::string client_name;  // LHLO's argument

  std::string out;  // replies of the current call
  bool close = false;

  storage::mail_store& store() { return *config.store; }
  // config.max_message_size, capped to what the store can hold.
  std::uint64_t max_message_size() const;
  // A fresh id for the Received: line and the delivery replies.
  std::string next_delivery_id();

 private:
  std::uint64_t deliveries_ = 0;
  std::uint64_t session_number_ = 0;
};

// Handlers: each returns the command's one reply (DATA's 354, or its error).
using command_handler = reply (*)(session_context& ctx, const command& cmd);

// commands/connection.cpp
reply handle_lhlo(session_context&, const command&);
reply handle_helo(session_context&, const command&);  // HELO and EHLO: 500 (RFC 2033 4.1)
reply handle_rset(session_context&, const command&);
reply handle_noop(session_context&, const command&);
reply handle_quit(session_context&, const command&);
reply handle_vrfy(session_context&, const command&);
reply handle_help(session_context&, const command&);
reply handle_not_implemented(session_context&, const command&);
// commands/envelope.cpp
reply handle_mail(session_context&, const command&);
reply handle_rcpt(session_context&, const command&);
// commands/data.cpp
reply handle_data(session_context&, const command&);
// Stores the message read after DATA and writes one reply per recipient to
// ctx.out; the session goes back to ready.
void deliver(session_context& ctx, message_data&& message);

}  // namespace packmail::protocols::lmtp
