// CAPA (RFC 2449 5), USER/PASS (RFC 1939 7), AUTH PLAIN (RFC 5034, RFC
// 4616), APOP (refused) and STLS (RFC 2595 4).
#include <string>

#include "../session_context.h"

namespace packmail::protocols::pop3 {
namespace {

bool is_plain(std::string_view mechanism) {
  return mechanism.size() == 5 && (mechanism[0] | 0x20) == 'p' && (mechanism[1] | 0x20) == 'l' &&
         (mechanism[2] | 0x20) == 'a' && (mechanism[3] | 0x20) == 'i' &&
         (mechanism[4] | 0x20) == 'n';
}

// RFC 4616 2: [authzid] NUL authcid NUL passwd.
void plain(session_context& ctx, std::string_view base64) {
  auto decoded = base64_decode(base64);
  if (!decoded) return ctx.err("Invalid base64 in the PLAIN response");
  const std::string& msg = *decoded;
  const auto first = msg.find('\0');
  const auto second = first == std::string::npos ? first : msg.find('\0', first + 1);
  if (second == std::string::npos) return ctx.err("Invalid PLAIN response");
  const std::string_view authzid(msg.data(), first);
  const std::string_view authcid(msg.data() + first + 1, second - first - 1);
  const std::string_view password(msg.data() + second + 1, msg.size() - second - 1);
  // Acting as another user is not supported.
  if (!authzid.empty() && authzid != authcid) return ctx.login_failed();
  ctx.login(authcid, password);
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
  if (!is_plain(cmd.args[0])) return ctx.err("Unsupported authentication mechanism");
  if (!ctx.plaintext_allowed()) return ctx.err(ctx.plaintext_refusal());
  if (cmd.args.size() == 2) {
    // RFC 5034 4: "=" is an empty initial response.
    return plain(ctx, cmd.args[1] == "=" ? std::string_view() : std::string_view(cmd.args[1]));
  }
  // RFC 5034 4: continue-req = "+" SP [base64] CRLF; PLAIN has no challenge.
  ctx.out += "+ \r\n";
  ctx.sasl_pending = true;
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
