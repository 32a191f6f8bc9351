// LHLO, HELO/EHLO, RSET, NOOP, QUIT, VRFY, HELP: the commands outside a mail
// transaction's envelope and data.
#include "../session_context.h"

namespace packmail::protocols::lmtp {

namespace {

reply syntax(std::string text) { return make_reply(501, "5.5.4", std::move(text)); }

}  // namespace

// RFC 2033 4.1: LHLO has the semantics of EHLO, which (RFC 5321 4.1.4) also
// resets any transaction in progress.
reply handle_lhlo(session_context& ctx, const command& cmd) {
  if (cmd.arguments.empty()) return syntax("Syntax: LHLO <domain>");
  if (!is_valid_client_name(cmd.arguments)) return syntax("Invalid domain name");
  ctx.client_name = cmd.arguments;
  ctx.state = ready{};
  // RFC 2034 3: the EHLO (here LHLO) reply carries no enhanced status codes.
  reply r;
  r.code = 250;
  r.lines = {ctx.config.host_name, "PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES",
             "SIZE " + std::to_string(ctx.max_message_size())};
  return r;
}

// RFC 2033 4.1: "A LMTP server MUST NOT return a Postive Completion reply
// code to these commands. The 500 reply code is recommended."
reply handle_helo(session_context&, const command&) {
  return make_reply(500, "5.5.1", "This is LMTP: use LHLO");
}

reply handle_rset(session_context& ctx, const command& cmd) {
  if (!cmd.arguments.empty()) return syntax("Syntax: RSET");
  if (!std::holds_alternative<awaiting_lhlo>(ctx.state)) ctx.state = ready{};
  return make_reply(250, "2.0.0", "OK");
}

reply handle_noop(session_context&, const command&) { return make_reply(250, "2.0.0", "OK"); }

reply handle_quit(session_context& ctx, const command& cmd) {
  if (!cmd.arguments.empty()) return syntax("Syntax: QUIT");
  reply r = make_reply(221, "2.0.0", ctx.config.host_name + " Bye");
  r.close = true;
  return r;
}

// RFC 5321 3.5.3: 252 when the server will not say whether a user exists.
reply handle_vrfy(session_context&, const command& cmd) {
  if (cmd.arguments.empty()) return syntax("Syntax: VRFY <address>");
  return make_reply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery");
}

reply handle_help(session_context&, const command&) {
  return make_reply(214, "2.0.0", "Commands: LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP");
}

reply handle_not_implemented(session_context&, const command&) {
  return make_reply(502, "5.5.1", "Command not implemented");
}

}  // namespace packmail::protocols::lmtp
