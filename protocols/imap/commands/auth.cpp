// CAPABILITY, NOOP, LOGOUT, ID (RFC 2971), LOGIN, AUTHENTICATE PLAIN (RFC 4616) and LOGIN
// (draft-murchison-sasl-login), SASL-IR (RFC 4959), STARTTLS, IDLE (RFC 2177) and ENABLE
// (RFC 5161).
#include <optional>
#include <string>

#include "../../common/base64.h"
#include "../../common/sasl_plain.h"
#include "../session_context.h"

namespace packmail::protocols::imap {
namespace {

reply check_password(session_context& ctx, std::string_view user, std::string_view password) {
  std::optional<std::string> canonical;
  if (ctx.config.authenticate) canonical = ctx.config.authenticate(user, password);
  if (!canonical) return ctx.login_failed();
  return ctx.login_as(*canonical);
}

// RFC 4616: [authzid] NUL authcid NUL passwd.
reply plain(session_context& ctx, std::string_view base64) {
  const sasl_plain_result parsed = parse_sasl_plain(base64);
  if (const auto* error = std::get_if<sasl_plain_error>(&parsed)) {
    return bad(*error == sasl_plain_error::bad_base64 ? "Invalid base64"
                                                      : "Invalid PLAIN response");
  }
  const auto& credentials = std::get<sasl_plain_credentials>(parsed);
  if (credentials.authorizes_other_user()) return ctx.login_failed();
  return check_password(ctx, credentials.authcid, credentials.password);
}

}  // namespace

std::optional<reply> handle_capability(session_context& ctx, command& cmd) {
  if (!cmd.args.empty()) return bad("CAPABILITY takes no arguments");
  ctx.out += "* CAPABILITY " + ctx.capabilities() + "\r\n";
  return ok("CAPABILITY completed");
}

std::optional<reply> handle_noop(session_context&, command& cmd) {
  if (!cmd.args.empty()) return bad("NOOP takes no arguments");
  return ok("NOOP completed");
}

std::optional<reply> handle_logout(session_context& ctx, command& cmd) {
  if (!cmd.args.empty()) return bad("LOGOUT takes no arguments");
  ctx.deselect();  // nothing more to announce
  ctx.out += "* BYE Logging out\r\n";
  reply r = ok("LOGOUT completed");
  r.close = true;
  return r;
}

std::optional<reply> handle_login(session_context& ctx, command& cmd) {
  if (cmd.args.size() != 2) return bad("LOGIN needs a user name and a password");
  auto user = cmd.args[0].astring();
  auto password = cmd.args[1].astring();
  if (!user || !password) return bad("Invalid LOGIN arguments");
  if (!ctx.auth_allowed()) return no("[PRIVACYREQUIRED] LOGIN is disabled without TLS");
  return check_password(ctx, *user, *password);
}

namespace {

// The LOGIN mechanism's two challenges, "Username:" and "Password:" in base64.
constexpr std::string_view k_login_user_challenge = "+ VXNlcm5hbWU6\r\n";
constexpr std::string_view k_login_password_challenge = "+ UGFzc3dvcmQ6\r\n";

std::optional<reply> await_response(session_context& ctx, std::string_view challenge,
                                    session_context::sasl_exchange exchange) {
  ctx.out += challenge;
  ctx.sasl = std::move(exchange);
  ctx.parser.expect_sasl_response();
  return std::nullopt;
}

// LOGIN: the user name arrived (initial response or first reply); ask for the
// password.
std::optional<reply> login_user(session_context& ctx, const std::string& tag,
                                std::string_view base64) {
  auto user = base64_decode(base64);
  if (!user) return bad("Invalid base64");
  return await_response(ctx, k_login_password_challenge, {tag, true, std::move(*user)});
}

}  // namespace

std::optional<reply> handle_authenticate(session_context& ctx, command& cmd) {
  if (cmd.args.empty() || cmd.args.size() > 2 || cmd.args[0].kind != token_kind::atom) {
    return bad("AUTHENTICATE needs a mechanism");
  }
  const bool login = cmd.args[0].is_atom("LOGIN");
  if (!login && !cmd.args[0].is_atom("PLAIN")) return no("[CANNOT] Unsupported mechanism");
  if (!ctx.auth_allowed()) return no("[PRIVACYREQUIRED] Authentication is disabled without TLS");
  if (cmd.args.size() == 2) {  // SASL-IR: "=" is an empty initial response
    auto initial = cmd.args[1].astring();
    if (!initial) return bad("Invalid initial response");
    const std::string_view response = *initial == "=" ? std::string_view() : *initial;
    if (login) return login_user(ctx, cmd.tag, response);
    return plain(ctx, response);
  }
  if (login) return await_response(ctx, k_login_user_challenge, {cmd.tag, true, std::nullopt});
  return await_response(ctx, "+ \r\n", {cmd.tag, false, std::nullopt});
}

std::optional<reply> continue_authenticate(session_context& ctx, const sasl_response& response) {
  // RFC 3501 6.2.2: "*" cancels the exchange.
  if (response.cancel) return bad("AUTHENTICATE cancelled");
  const session_context::sasl_exchange exchange = *ctx.sasl;
  if (!exchange.login) return plain(ctx, response.line);
  if (!exchange.user) return login_user(ctx, exchange.tag, response.line);
  auto password = base64_decode(response.line);
  if (!password) return bad("Invalid base64");
  return check_password(ctx, *exchange.user, *password);
}

std::optional<reply> handle_enable(session_context& ctx, command& cmd) {
  // RFC 5161 3.1: at least one capability name; unknown ones are ignored.
  // None of the extensions ENABLE can turn on (CONDSTORE, QRESYNC,
  // UTF8=ACCEPT) is offered yet, so the ENABLED list stays empty.
  if (cmd.args.empty()) return bad("ENABLE needs a capability name");
  for (const token& t : cmd.args) {
    if (t.kind != token_kind::atom) return bad("Invalid capability name");
  }
  ctx.out += "* ENABLED\r\n";
  return ok("ENABLE completed");
}

std::optional<reply> handle_id(session_context& ctx, command& cmd) {
  // RFC 2971: NIL or a list of up to 30 field/value string pairs.
  if (cmd.args.size() != 1) return bad("ID needs NIL or a parameter list");
  const token& list = cmd.args[0];
  if (list.kind != token_kind::nil) {
    if (!list.is_list() || list.children.size() % 2 != 0 || list.children.size() > 60) {
      return bad("Invalid ID parameter list");
    }
    for (std::size_t i = 0; i < list.children.size(); i += 2) {
      const token& value = list.children[i + 1];
      if (!list.children[i].is_string() || !(value.is_string() || value.kind == token_kind::nil)) {
        return bad("Invalid ID parameter list");
      }
    }
  }
  ctx.out += "* ID (\"name\" \"packmail\")\r\n";
  return ok("ID completed");
}

std::optional<reply> handle_starttls(session_context& ctx, command& cmd) {
  if (!cmd.args.empty()) return bad("STARTTLS takes no arguments");
  if (!ctx.config.starttls_available || ctx.connection.tls) return bad("STARTTLS not available");
  ctx.start_tls = true;
  return ok("Begin TLS negotiation now");
}

std::optional<reply> handle_idle(session_context& ctx, command& cmd) {
  if (!cmd.args.empty()) return bad("IDLE takes no arguments");
  ctx.out += "+ idling\r\n";
  if (!ctx.sync_view(true, false)) return std::nullopt;
  ctx.idle_tag = cmd.tag;
  ctx.parser.expect_done();
  return std::nullopt;
}

}  // namespace packmail::protocols::imap
