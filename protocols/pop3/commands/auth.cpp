// CAPA (RFC 2449 5), USER/PASS (RFC 1939 7), AUTH PLAIN (RFC 5034, RFC
// 4616), APOP (refused) and STLS (RFC 2595 4).
#include <string>

#include "../../common/sasl_plain.h"
#include "../session_context.h"
#include "packmail/protocols/ascii.h"

namespace packmail::protocols::pop3 {
namespace {

// RFC 4616 2: [authzid] NUL authcid NUL passwd.
void plain(session_context& ctx, std::string_view base64) {
  const sasl_plain_result parsed = parse_sasl_plain(base64);
  if (const auto* error = std::get_if<sasl_plain_error>(&parsed)) {
    return ctx.err(*error == sasl_plain_error::bad_base64 ? "Invalid base64 in the PLAIN response"
                                                          : "Invalid PLAIN response");
  }
  const auto& credentials = std::get<sasl_plain_credentials>(parsed);
  if (credentials.authorizes_other_user()) return ctx.login_failed();
  ctx.login(credentials.authcid, credentials.password);
}

}  // namespace

void handle_capa(session_context& ctx, const command& cmd) {
  if (!cmd.args.empty()) return ctx.err("CAPA takes no arguments");
  ctx.ok("Capability list follows");
  ctx.out += ctx.capabilities();
  ctx.out += ".\r\n";
}

void handle_user(session_context& ctx, const command& cmd) {
  if (cmd.text.empty()) return ctx.err("USER needs a user name");
  if (!ctx.plaintext_allowed()) return ctx.err(ctx.plaintext_refusal());
  // The name is checked with the password, so that USER tells nothing
  // about which users exist.
  std::get<authorization>(ctx.state).user = cmd.text;
  ctx.ok("Send the password");
}

void handle_pass(session_context& ctx, const command& cmd) {
  auto& a = std::get<authorization>(ctx.state);
  if (!a.user) return ctx.err("USER first");
  const std::string user = std::move(*a.user);
  a.user.reset();
  if (cmd.text.empty()) return ctx.err("PASS needs a password");
  if (!ctx.plaintext_allowed()) return ctx.err(ctx.plaintext_refusal());
  ctx.login(user, cmd.text);
}

void handle_auth(session_context& ctx, const command& cmd) {
  if (cmd.args.empty()) {
    // Not in RFC 5034, but long used by clients to list the mechanisms.
    ctx.ok("Supported mechanisms follow");
    if (ctx.plaintext_allowed()) ctx.out += "PLAIN\r\n";
    ctx.out += ".\r\n";
    return;
  }
  if (cmd.args.size() > 2) return ctx.err("AUTH takes a mechanism and an initial response");
  if (!iequals_ascii(cmd.args[0], "PLAIN")) return ctx.err("Unsupported authentication mechanism");
  if (!ctx.plaintext_allowed()) return ctx.err(ctx.plaintext_refusal());
  if (cmd.args.size() == 2) {
    // RFC 5034 4: "=" is an empty initial response.
    return plain(ctx, cmd.args[1] == "=" ? std::string_view() : std::string_view(cmd.args[1]));
  }
  // RFC 5034 4: continue-req = "+" SP [base64] CRLF; PLAIN has no challenge.
  ctx.out += "+ \r\n";
  ctx.parser.expect_sasl_response();
}

void continue_auth(session_context& ctx, const sasl_response& response) {
  // RFC 5034 4: "*" cancels, and the server rejects the AUTH command.
  if (response.cancel) return ctx.err("Authentication cancelled");
  plain(ctx, response.line);
}

void handle_apop(session_context& ctx, const command&) {
  // APOP needs the clear-text password on the server, which is not kept.
  ctx.err("APOP is not supported; use USER/PASS or AUTH");
}

void handle_stls(session_context& ctx, const command& cmd) {
  if (!cmd.args.empty()) return ctx.err("STLS takes no arguments");
  if (ctx.connection.tls) return ctx.err("Command not permitted when TLS active");
  if (!ctx.config.stls_available) return ctx.err("STLS is not available");
  ctx.ok("Begin TLS negotiation");
  ctx.start_tls = true;
}

}  // namespace packmail::protocols::pop3
