// The IMAP session: reads events from the command parser, checks each command
// against the state in one gatekeeper, and runs its handler from the command
// table. Untagged news from other sessions goes out before each tagged reply.
#include "packmail/protocols/imap/session.h"

#include <algorithm>
#include <array>

#include "packmail/protocols/imap/mailbox_name.h"
#include "session_context.h"

namespace packmail::protocols::imap {
namespace {

// States a command is allowed in, as bits.
enum state_bit : unsigned {
  k_not_authenticated = 1,
  k_authenticated = 2,
  k_selected = 4,
  k_any = 7,
  k_logged_in = k_authenticated | k_selected,
};

enum command_flag : unsigned {
  k_none = 0,
  // "UID <command>" exists.
  k_uid = 1,
  // Addresses messages by sequence number: the view must not shift under the
  // client. RFC 3501 7.4.1: no EXPUNGE while responding to FETCH, STORE or
  // SEARCH (their UID forms may).
  k_uses_sequence_numbers = 2,
};

struct command_spec {
  std::string_view name;
  unsigned states;
  unsigned flags;
  command_handler handler;
};

constexpr std::array k_commands{
    command_spec{"CAPABILITY", k_any, k_none, handle_capability},
    command_spec{"NOOP", k_any, k_none, handle_noop},
    command_spec{"LOGOUT", k_any, k_none, handle_logout},
    command_spec{"ID", k_any, k_none, handle_id},
    command_spec{"LOGIN", k_not_authenticated, k_none, handle_login},
    command_spec{"AUTHENTICATE", k_not_authenticated, k_none, handle_authenticate},
    command_spec{"STARTTLS", k_not_authenticated, k_none, handle_starttls},
    command_spec{"SELECT", k_logged_in, k_none, handle_select},
    command_spec{"EXAMINE", k_logged_in, k_none, handle_examine},
    command_spec{"CREATE", k_logged_in, k_none, handle_create},
    command_spec{"DELETE", k_logged_in, k_none, handle_delete},
    command_spec{"RENAME", k_logged_in, k_none, handle_rename},
    command_spec{"SUBSCRIBE", k_logged_in, k_none, handle_subscribe},
    command_spec{"UNSUBSCRIBE", k_logged_in, k_none, handle_unsubscribe},
    command_spec{"LIST", k_logged_in, k_none, handle_list},
    command_spec{"LSUB", k_logged_in, k_none, handle_lsub},
    command_spec{"STATUS", k_logged_in, k_none, handle_status},
    command_spec{"NAMESPACE", k_logged_in, k_none, handle_namespace},
    command_spec{"APPEND", k_logged_in, k_none, handle_append},
    command_spec{"IDLE", k_logged_in, k_none, handle_idle},
    // RFC 5161 3.1: ENABLE is valid only in the authenticated state.
    command_spec{"ENABLE", k_authenticated, k_none, handle_enable},
    command_spec{"CHECK", k_selected, k_none, handle_check},
    command_spec{"CLOSE", k_selected, k_none, handle_close},
    command_spec{"UNSELECT", k_selected, k_none, handle_unselect},
    command_spec{"EXPUNGE", k_selected, k_uid, handle_expunge},
    command_spec{"FETCH", k_selected, k_uid | k_uses_sequence_numbers, handle_fetch},
    command_spec{"STORE", k_selected, k_uid | k_uses_sequence_numbers, handle_store},
    command_spec{"SEARCH", k_selected, k_uid | k_uses_sequence_numbers, handle_search},
    command_spec{"COPY", k_selected, k_uid, handle_copy},
    command_spec{"MOVE", k_selected, k_uid, handle_move},
};

const command_spec* find_command(std::string_view name) {
  for (const command_spec& spec : k_commands) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

unsigned state_of(const session_state& state) {
  switch (state.index()) {
    case 0:
      return k_not_authenticated;
    case 1:
      return k_authenticated;
    case 2:
      return k_selected;
    default:
      return 0;
  }
}

// The gatekeeper: whether `spec` may run now, or the BAD that refuses it.
std::optional<reply> refuse(const session_context& ctx, const command_spec* spec, bool uid) {
  if (!spec) return bad("Unknown command");
  if (uid && !(spec->flags & k_uid)) return bad("Unknown UID command");
  const unsigned current = state_of(ctx.state);
  if (spec->states & current) return std::nullopt;
  if (current == k_not_authenticated) return bad("Log in first");
  if (spec->states == k_not_authenticated) return bad("Already logged in");
  if (spec->states == k_selected) return bad("No mailbox selected");
  return bad("Command not allowed now");
}

}  // namespace

// --- session_context ----------------------------------------------------------

storage::user_id session_context::user_id() const {
  if (auto* a = std::get_if<authenticated>(&state)) return a->id;
  if (auto* s = std::get_if<selected>(&state)) return s->id;
  return 0;
}

const std::string* session_context::user_name() const {
  if (auto* a = std::get_if<authenticated>(&state)) return &a->user;
  if (auto* s = std::get_if<selected>(&state)) return &s->user;
  return nullptr;
}

mailbox_view* session_context::view() {
  if (auto* s = std::get_if<selected>(&state)) return s->view.get();
  return nullptr;
}

void session_context::deselect() {
  if (auto* s = std::get_if<selected>(&state)) {
    authenticated next{std::move(s->user), s->id};
    state = std::move(next);
  }
}

bool session_context::sync_view(bool allow_expunge, bool with_uid) {
  mailbox_view* selected_view = view();
  if (!selected_view || selected_view->sync(out, allow_expunge, with_uid)) return true;
  out += "* BYE Selected mailbox was deleted\r\n";
  close = true;
  return false;
}

bool session_context::auth_allowed() const {
  return plaintext_auth_allowed(config.allow_plaintext_auth, connection);
}

std::string session_context::capabilities() const {
  // RFC 7888 5: never both LITERAL+ and LITERAL-.
  std::string caps = config.limits.non_sync == non_sync_literals::plus ? "IMAP4rev1 LITERAL+"
                                                                       : "IMAP4rev1 LITERAL-";
  if (std::holds_alternative<not_authenticated>(state)) {
    if (config.starttls_available && !connection.tls) caps += " STARTTLS";
    caps += auth_allowed() ? " AUTH=PLAIN AUTH=LOGIN SASL-IR" : " LOGINDISABLED";
  }
  caps += " ENABLE IDLE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE NAMESPACE ID";
  return caps;
}

reply session_context::login_as(const std::string& user) {
  auto id = store().ensure_user(user);
  if (!id) return storage_failure(id.error());
  state = authenticated{user, *id};
  return ok("[CAPABILITY " + capabilities() + "] Logged in");
}

reply session_context::login_failed() {
  auto& na = std::get<not_authenticated>(state);
  ++na.failures;
  delay = auth_failure_delay(config.auth_failure_delay, na.failures);
  if (na.failures >= config.max_auth_failures) {
    out += "* BYE Too many authentication failures\r\n";
    close = true;
  }
  return no("[AUTHENTICATIONFAILED] Authentication failed");
}

std::optional<std::string> mailbox_argument(const token& t) {
  auto text = t.astring();
  if (!text) return std::nullopt;
  auto utf8 = mutf7_to_utf8(*text);
  if (!utf8) return std::nullopt;
  return std::move(utf8).value();
}

// --- session ----------------------------------------------------------------

namespace {

void finish(session_context& ctx, std::string_view tag, const reply& r, unsigned flags, bool uid) {
  ctx.sync_view(uid || !(flags & k_uses_sequence_numbers), uid);
  append_tagged(ctx.out, tag, r);
  if (r.close) {
    ctx.close = true;
    ctx.state = logged_out{};
  }
}

void run_command(session_context& ctx, command& cmd) {
  const command_spec* spec = find_command(cmd.name);
  if (auto refused = refuse(ctx, spec, cmd.uid)) {
    append_tagged(ctx.out, cmd.tag, *refused);
    return;
  }
  std::optional<reply> r = spec->handler(ctx, cmd);
  if (r) {
    finish(ctx, cmd.tag, *r, spec->flags, cmd.uid);
  } else if (ctx.resume) {
    ctx.resumed = {cmd.tag, spec->flags, cmd.uid};
  }
}

// Runs the next step of a command that answers in steps; true when it is done.
bool resume_command(session_context& ctx) {
  std::optional<reply> r = ctx.resume(ctx);
  if (!r) return false;
  ctx.resume = nullptr;
  finish(ctx, ctx.resumed.tag, *r, ctx.resumed.flags, ctx.resumed.uid);
  return true;
}

void on_literal(session_context& ctx, const literal_announced& literal) {
  if (!literal.synchronizing) return;
  const command& pending = ctx.parser.pending_command();
  const command_spec* spec = find_command(pending.name);
  if (auto refused = refuse(ctx, spec, pending.uid)) {
    append_tagged(ctx.out, pending.tag, *refused);
    ctx.parser.reject_literal();
    return;
  }
  ctx.out += "+ Ready\r\n";
}

void on_parse_error(session_context& ctx, const parse_error& error) {
  if (error.close) {
    ctx.out += "* BYE " + error.message + "\r\n";
    ctx.close = true;
    return;
  }
  std::string text = error.message;
  if (error.code == parse_error_code::literal_too_large ||
      error.code == parse_error_code::command_too_large) {
    text = "[TOOBIG] " + text;
  }
  // A bad line in IDLE or AUTHENTICATE ends that command.
  if (ctx.idle_tag) {
    append_tagged(ctx.out, *ctx.idle_tag, bad(text));
    ctx.idle_tag.reset();
    return;
  }
  if (ctx.sasl) {
    append_tagged(ctx.out, ctx.sasl->tag, bad(text));
    ctx.sasl.reset();
    return;
  }
  append_tagged(ctx.out, error.tag.empty() ? std::string_view("*") : error.tag, bad(text));
}

output take(session_context& ctx) {
  output o;
  o.bytes = std::move(ctx.out);
  ctx.out.clear();
  o.close = ctx.close;
  o.start_tls = ctx.start_tls;
  ctx.start_tls = false;
  o.delay = ctx.delay;
  ctx.delay = {};
  return o;
}

}  // namespace

session::session(session_config config, connection_info connection, wake_function wake)
    : context_(std::make_unique<session_context>(std::move(config), std::move(connection),
                                                 std::move(wake))) {}

session::~session() = default;

output session::greeting() {
  context_->out +=
      "* OK [CAPABILITY " + context_->capabilities() + "] " + context_->config.greeting + "\r\n";
  return take(*context_);
}

output session::on_input(std::string_view bytes) {
  session_context& ctx = *context_;
  // Input kept from a call that stopped at the pipelining limit goes first.
  std::string held;
  if (!ctx.pending_input.empty()) {
    held = std::move(ctx.pending_input);
    ctx.pending_input.clear();
    held.append(bytes);
    bytes = held;
  }
  std::string_view in = bytes;
  std::size_t commands = 0;
  if (ctx.resume && !resume_command(ctx)) {
    ctx.pending_input.assign(in);
    output o = take(ctx);
    o.more = !o.close;
    return o;
  }
  // After STARTTLS's OK, the rest of this input was sent in clear text and is
  // dropped (RFC 3501 6.2.1; a command injection otherwise). A failed login's
  // delay applies to its reply alone, so the call ends there too.
  while (!ctx.close && !ctx.start_tls && ctx.delay.count() == 0 && !ctx.resume) {
    if (commands == std::max<std::size_t>(ctx.config.max_pipelined_commands, 1)) {
      ctx.pending_input.assign(in);
      break;
    }
    parse_result r = ctx.parser.feed(in);
    in.remove_prefix(r.consumed);
    if (std::holds_alternative<need_more>(r.output)) break;
    if (auto* literal = std::get_if<literal_announced>(&r.output)) {
      on_literal(ctx, *literal);
    } else if (auto* cmd = std::get_if<command>(&r.output)) {
      ++commands;
      run_command(ctx, *cmd);
    } else if (std::holds_alternative<idle_done>(r.output)) {
      if (ctx.idle_tag) {
        const std::string tag = std::move(*ctx.idle_tag);
        ctx.idle_tag.reset();
        finish(ctx, tag, ok("IDLE terminated"), k_none, false);
      }
    } else if (auto* sasl = std::get_if<sasl_response>(&r.output)) {
      if (ctx.sasl) {
        const std::string tag = ctx.sasl->tag;
        if (std::optional<reply> r = continue_authenticate(ctx, *sasl)) {
          ctx.sasl.reset();
          append_tagged(ctx.out, tag, *r);
        }
      }
    } else if (auto* error = std::get_if<parse_error>(&r.output)) {
      on_parse_error(ctx, *error);
    }
  }
  // Input after a delayed failure or a closing reply waits with the rest.
  if (!in.empty() && !ctx.close && !ctx.start_tls && ctx.pending_input.empty()) {
    ctx.pending_input.assign(in);
  }
  output o = take(ctx);
  o.more = (!ctx.pending_input.empty() || ctx.resume) && !o.close;
  return o;
}

void session::on_tls_started() {
  context_->connection.tls = true;
  // Anything the parser held from before the handshake is dropped.
  context_->parser = command_parser(context_->config.limits);
}

output session::on_idle_timeout() {
  context_->out += "* BYE Autologout; idle for too long\r\n";
  context_->close = true;
  return take(*context_);
}

output session::on_wake() {
  session_context& ctx = *context_;
  // Outside IDLE no command is in progress, and EXPUNGE must wait for one
  // (RFC 3501 7.4.1); the news goes out with the next command instead.
  if (ctx.idle_tag && !ctx.close) ctx.sync_view(true, false);
  return take(ctx);
}

std::chrono::steady_clock::duration session::idle_timeout() const {
  return std::holds_alternative<not_authenticated>(context_->state) ? context_->config.login_timeout
                                                                    : context_->config.idle_timeout;
}

output session::on_shutdown() {
  context_->out += "* BYE Server shutting down\r\n";
  context_->close = true;
  return take(*context_);
}

std::string refusal(refusal_reason reason) {
  switch (reason) {
    case refusal_reason::too_many_connections:
      return "* BYE [UNAVAILABLE] Too many connections\r\n";
    case refusal_reason::too_many_connections_from_address:
      return "* BYE [UNAVAILABLE] Too many connections from your address\r\n";
  }
  return "* BYE [UNAVAILABLE] Try again later\r\n";
}

}  // namespace packmail::protocols::imap
