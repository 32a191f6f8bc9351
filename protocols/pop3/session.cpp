// The POP3 session: reads events from the command parser, checks each command
// against the state in one gatekeeper, and runs its handler from the command
// table. Pipelined commands (RFC 2449 6.6) are answered in order.
#include "packmail/protocols/pop3/session.h"

#include <algorithm>
#include <array>

#include "session_context.h"

namespace packmail::protocols::pop3 {
namespace {

// A call stops running commands once its replies reach this size, so that
// pipelined RETRs are not all held in memory at once.
constexpr std::size_t k_output_per_call = 1024 * 1024;

// States a command is allowed in, as bits.
enum state_bit : unsigned {
  k_authorization = 1,
  k_transaction = 2,
  k_any = k_authorization | k_transaction,
};

struct command_spec {
  std::string_view name;
  unsigned states;
  command_handler handler;
};

constexpr std::array k_commands{
    command_spec{"CAPA", k_any, handle_capa},
    command_spec{"QUIT", k_any, handle_quit},
    command_spec{"USER", k_authorization, handle_user},
    command_spec{"PASS", k_authorization, handle_pass},
    command_spec{"AUTH", k_authorization, handle_auth},
    command_spec{"APOP", k_authorization, handle_apop},
    command_spec{"STLS", k_authorization, handle_stls},
    command_spec{"STAT", k_transaction, handle_stat},
    command_spec{"LIST", k_transaction, handle_list},
    command_spec{"UIDL", k_transaction, handle_uidl},
    command_spec{"RETR", k_transaction, handle_retr},
    command_spec{"TOP", k_transaction, handle_top},
    command_spec{"DELE", k_transaction, handle_dele},
    command_spec{"RSET", k_transaction, handle_rset},
    command_spec{"NOOP", k_transaction, handle_noop},
};

const command_spec* find_command(std::string_view name) {
  for (const command_spec& spec : k_commands) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

unsigned state_of(const session_state& state) {
  if (std::holds_alternative<authorization>(state)) return k_authorization;
  if (std::holds_alternative<transaction>(state)) return k_transaction;
  return 0;
}

// The gatekeeper: whether `spec` may run now, or the -ERR text refusing it.
std::optional<std::string_view> refuse(const session_context& ctx, const command_spec* spec) {
  if (!spec) return "Unknown command";
  const unsigned current = state_of(ctx.state);
  if (spec->states & current) return std::nullopt;
  if (current == k_authorization) return "Not logged in; log in first";
  return "Already logged in";
}

void run_command(session_context& ctx, const command& cmd) {
  // RFC 1939 7: PASS is valid only right after a successful USER.
  if (auto* a = std::get_if<authorization>(&ctx.state); a && cmd.name != "PASS") a->user.reset();
  const command_spec* spec = find_command(cmd.name);
  if (auto refused = refuse(ctx, spec)) {
    ctx.err(*refused);
    return;
  }
  spec->handler(ctx, cmd);
}

output take(session_context& ctx) {
  output o;
  o.bytes = std::move(ctx.out);
  ctx.out.clear();
  o.close = ctx.close;
  o.start_tls = ctx.start_tls;
  o.delay = ctx.delay;
  ctx.start_tls = false;
  ctx.delay = std::chrono::milliseconds(0);
  return o;
}

}  // namespace

// --- maildrop -----------------------------------------------------------------

std::uint32_t maildrop::count() const {
  std::uint32_t n = 0;
  for (const maildrop_message& m : messages) n += m.deleted ? 0 : 1;
  return n;
}

std::uint64_t maildrop::octets() const {
  std::uint64_t n = 0;
  for (const maildrop_message& m : messages) n += m.deleted ? 0 : m.size;
  return n;
}

std::string maildrop::summary() const {
  return std::to_string(count()) + " messages (" + std::to_string(octets()) + " octets)";
}

// --- session_context ----------------------------------------------------------

maildrop* session_context::drop() {
  if (auto* t = std::get_if<transaction>(&state)) return &t->drop;
  return nullptr;
}

bool session_context::plaintext_allowed() const {
  return plaintext_auth_allowed(config.allow_plaintext_auth, connection);
}

std::string session_context::plaintext_refusal() const {
  // RFC 3206 5: AUTH, the credentials were not accepted for this reason.
  std::string text = "[AUTH] Plaintext authentication is disabled without TLS";
  if (config.stls_available && !connection.tls) text += "; STLS first";
  return text;
}

std::string session_context::capabilities() const {
  const bool plaintext = plaintext_allowed();
  // RFC 2449 6: USER and SASL are announced in both states; STLS only where
  // it is permitted (RFC 2595 4).
  std::string caps = "TOP\r\n";
  if (plaintext) caps += "USER\r\n";
  caps += "UIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n";
  if (plaintext) caps += "SASL PLAIN\r\n";
  if (std::holds_alternative<authorization>(state) && config.stls_available && !connection.tls) {
    caps += "STLS\r\n";
  }
  caps += "IMPLEMENTATION packmail\r\n";
  return caps;
}

void session_context::login(std::string_view user, std::string_view password) {
  std::optional<std::string> canonical;
  if (config.authenticate) canonical = config.authenticate(user, password);
  if (!canonical) {
    login_failed();
    return;
  }
  // RFC 1939 4: a maildrop that cannot be opened gets -ERR; the session
  // stays in AUTHORIZATION and the lock, if taken, is released first.
  auto id = store().ensure_user(*canonical);
  if (!id) return err(storage_failure(id.code()));
  auto inbox = store().get_mailbox(*id, "INBOX");
  if (!inbox) return err(storage_failure(inbox.code()));
  maildrop snapshot;
  snapshot.mailbox = inbox->id;
  snapshot.uidvalidity = inbox->uidvalidity;
  snapshot.lease = config.locks->try_lock(inbox->id);
  // RFC 2449 8.1.2.
  if (!snapshot.lease) return err("[IN-USE] Maildrop is locked by another POP3 session");
  auto messages = store().list_messages(inbox->id);
  if (!messages) return err(storage_failure(messages.code()));
  snapshot.messages.reserve(messages->size());
  for (const storage::message_info& m : *messages) snapshot.messages.push_back({m.uid, m.size});
  const std::string text = "Logged in; " + snapshot.summary();
  state = transaction{std::move(*canonical), std::move(snapshot)};
  ok(text);
}

void session_context::login_failed() {
  auto& a = std::get<authorization>(state);
  ++a.failures;
  delay = auth_failure_delay(config.auth_failure_delay, a.failures);
  if (a.failures >= config.max_auth_failures) {
    err("[AUTH] Authentication failed; too many failures, closing");
    end();
    return;
  }
  err("[AUTH] Authentication failed");
}

void session_context::end() {
  state = closed{};
  close = true;
}

// --- session ----------------------------------------------------------------

// POP3 has no asynchronous news: the wake function is never called.
session::session(session_config config, connection_info connection, wake_function)
    : context_(std::make_unique<session_context>(std::move(config), std::move(connection))) {
  if (!context_->config.locks) context_->config.locks = std::make_shared<maildrop_locks>();
}

session::~session() = default;

output session::greeting() {
  context_->ok(context_->config.greeting);
  return take(*context_);
}

output session::on_input(std::string_view bytes) {
  session_context& ctx = *context_;
  // Input kept by a call that stopped early goes first.
  std::string held;
  if (!ctx.pending_input.empty()) {
    held = std::move(ctx.pending_input);
    ctx.pending_input.clear();
    held.append(bytes);
    bytes = held;
  }
  std::string_view in = bytes;
  const std::size_t max_commands = std::max<std::size_t>(ctx.config.max_pipelined_commands, 1);
  std::size_t commands = 0;
  // After STLS's +OK, the rest of this input was sent in clear text and is
  // dropped (RFC 2595 4; a command injection otherwise). A failed login's
  // delay applies to its reply alone, so the call ends there too.
  while (!ctx.close && !ctx.start_tls && ctx.delay.count() == 0) {
    if (commands == max_commands || ctx.out.size() >= k_output_per_call) {
      ctx.pending_input.assign(in);
      break;
    }
    parse_result r = ctx.parser.feed(in);
    in.remove_prefix(r.consumed);
    if (std::holds_alternative<need_more>(r.output)) break;
    ++commands;
    if (auto* cmd = std::get_if<command>(&r.output)) {
      run_command(ctx, *cmd);
    } else if (auto* sasl = std::get_if<sasl_response>(&r.output)) {
      // The parser answers with a SASL response only after AUTH asked it to.
      continue_auth(ctx, *sasl);
    } else if (auto* error = std::get_if<parse_error>(&r.output)) {
      // A bad line during AUTH ends the exchange with this -ERR (the parser
      // is back in command mode).
      if (auto* a = std::get_if<authorization>(&ctx.state)) a->user.reset();
      ctx.err(error->message);
    }
  }
  // Input after a delayed failure waits with the rest.
  if (!in.empty() && !ctx.close && !ctx.start_tls && ctx.pending_input.empty()) {
    ctx.pending_input.assign(in);
  }
  output o = take(ctx);
  o.more = !ctx.pending_input.empty() && !o.close;
  return o;
}

void session::on_tls_started() {
  context_->connection.tls = true;
  // Anything the parser held from before the handshake is dropped. Nothing
  // else can be pending: STLS's +OK ended its call with the rest of the
  // input dropped, and STLS, like any command but PASS, forgot USER's name.
  context_->parser = command_parser(context_->config.max_line);
}

output session::on_idle_timeout() {
  context_->err("Disconnected for inactivity");
  context_->end();
  return take(*context_);
}

output session::on_wake() { return take(*context_); }

std::chrono::steady_clock::duration session::idle_timeout() const {
  return std::holds_alternative<authorization>(context_->state) ? context_->config.login_timeout
                                                                : context_->config.idle_timeout;
}

output session::on_shutdown() {
  context_->err("[SYS/TEMP] Server shutting down");
  context_->end();
  return take(*context_);
}

std::string refusal(refusal_reason reason) {
  switch (reason) {
    case refusal_reason::too_many_connections:
      return "-ERR [SYS/TEMP] Too many connections\r\n";
    case refusal_reason::too_many_connections_from_address:
      return "-ERR [SYS/TEMP] Too many connections from your address\r\n";
  }
  return "-ERR [SYS/TEMP] Try again later\r\n";
}

}  // namespace packmail::protocols::pop3
