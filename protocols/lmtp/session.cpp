// The LMTP session: reads events from the parser, checks each command against
// the state in one gatekeeper, runs its handler from the command table, and
// hands the message read after DATA to the delivery.
#include "packmail/protocols/lmtp/session.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>

#include "session_context.h"

namespace packmail::protocols::lmtp {
namespace {

// States a command is allowed in, as bits.
enum state_bit : unsigned {
  k_awaiting_lhlo = 1,
  k_ready = 2,
  k_in_transaction = 4,
  k_any = 7,
};

struct command_spec {
  std::string_view name;
  unsigned states;
  command_handler handler;
};

constexpr std::array k_commands{
    command_spec{"LHLO", k_any, handle_lhlo},
    command_spec{"HELO", k_any, handle_helo},
    command_spec{"EHLO", k_any, handle_helo},
    command_spec{"MAIL", k_ready, handle_mail},
    command_spec{"RCPT", k_in_transaction, handle_rcpt},
    command_spec{"DATA", k_in_transaction, handle_data},
    command_spec{"RSET", k_any, handle_rset},
    command_spec{"NOOP", k_any, handle_noop},
    command_spec{"QUIT", k_any, handle_quit},
    command_spec{"VRFY", k_any, handle_vrfy},
    command_spec{"HELP", k_any, handle_help},
    // SMTP commands this server does not offer (RFC 5321 4.2.4: 502).
    command_spec{"BDAT", k_any, handle_not_implemented},
    command_spec{"EXPN", k_any, handle_not_implemented},
    command_spec{"STARTTLS", k_any, handle_not_implemented},
    command_spec{"AUTH", k_any, handle_not_implemented},
};

const command_spec* find_command(std::string_view name) {
  for (const command_spec& spec : k_commands) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

unsigned state_of(const session_state& state) {
  if (std::holds_alternative<awaiting_lhlo>(state)) return k_awaiting_lhlo;
  if (std::holds_alternative<ready>(state)) return k_ready;
  if (std::holds_alternative<in_transaction>(state)) return k_in_transaction;
  return 0;
}

// The gatekeeper: whether `spec` may run now, or the reply that refuses it.
// RFC 5321 4.1.4 / RFC 2033 4.2: commands out of sequence get 503.
std::optional<reply> refuse(const session_context& ctx, const command_spec* spec) {
  if (!spec) return make_reply(500, "5.5.1", "Unknown command");
  const unsigned current = state_of(ctx.state);
  if (spec->states & current) return std::nullopt;
  if (current == k_awaiting_lhlo) return make_reply(503, "5.5.1", "Send LHLO first");
  if (current == k_in_transaction) return make_reply(503, "5.5.1", "Nested MAIL command");
  return make_reply(503, "5.5.1", "Need MAIL command first");
}

void run_command(session_context& ctx, const command& cmd) {
  const command_spec* spec = find_command(cmd.name);
  reply r = [&] {
    if (auto refused = refuse(ctx, spec)) return std::move(*refused);
    return spec->handler(ctx, cmd);
  }();
  append_reply(ctx.out, r);
  if (r.close) {
    ctx.close = true;
    ctx.state = closed{};
  }
}

output take(session_context& ctx) {
  output o;
  o.bytes = std::move(ctx.out);
  ctx.out.clear();
  o.close = ctx.close;
  return o;
}

std::atomic<std::uint64_t> g_sessions{0};

std::int64_t unix_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// --- session_context --------------------------------------------------------

session_context::session_context(session_config c, connection_info info)
    : config(std::move(c)),
      connection(std::move(info)),
      parser(parser_limits{config.max_line, max_message_size()}),
      session_number_(g_sessions.fetch_add(1, std::memory_order_relaxed)) {}

std::uint64_t session_context::max_message_size() const {
  constexpr std::uint64_t k_store_max = (std::uint64_t{1} << 32) - (std::uint64_t{1} << 20);
  return std::min(config.max_message_size, k_store_max);
}

std::string session_context::next_delivery_id() {
  // Time, session and delivery number: unique within a process and,
  // through the time, across restarts.
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%011llx%05llx%04llx",
                static_cast<unsigned long long>(unix_millis()) & 0xfffffffffffull,
                static_cast<unsigned long long>(session_number_) & 0xfffffull,
                static_cast<unsigned long long>(++deliveries_) & 0xffffull);
  return buffer;
}

// --- session ----------------------------------------------------------------

// LMTP has no asynchronous news: the wake function is never called.
session::session(session_config config, connection_info connection, wake_function)
    : context_(std::make_unique<session_context>(std::move(config), std::move(connection))) {}

session::~session() = default;

output session::greeting() {
  // RFC 2034 3: the greeting carries no enhanced status code.
  append_reply(context_->out,
               make_reply(220, "", context_->config.host_name + " packmail LMTP ready"));
  return take(*context_);
}

output session::on_input(std::string_view bytes) {
  session_context& ctx = *context_;
  std::string_view in = bytes;
  while (!ctx.close) {
    parse_result r = ctx.parser.feed(in);
    in.remove_prefix(r.consumed);
    if (std::holds_alternative<need_more>(r.output)) break;
    if (auto* cmd = std::get_if<command>(&r.output)) {
      run_command(ctx, *cmd);
    } else if (auto* message = std::get_if<message_data>(&r.output)) {
      deliver(ctx, std::move(*message));
    } else if (auto* error = std::get_if<parse_error>(&r.output)) {
      append_reply(ctx.out, make_reply(500, "5.5.2", error->message));
    }
  }
  return take(ctx);
}

void session::on_tls_started() {}

output session::on_idle_timeout() {
  // RFC 5321 4.5.3.2: the server may close after its timeout, with 421.
  append_reply(context_->out, make_reply(421, "4.4.2", context_->config.host_name + " Timeout"));
  context_->close = true;
  context_->state = closed{};
  return take(*context_);
}

output session::on_wake() { return take(*context_); }

std::chrono::steady_clock::duration session::idle_timeout() const {
  return context_->config.idle_timeout;
}

output session::on_shutdown() {
  append_reply(context_->out,
               make_reply(421, "4.3.2", context_->config.host_name + " Server shutting down"));
  context_->close = true;
  context_->state = closed{};
  return take(*context_);
}

std::string refusal(refusal_reason reason) {
  switch (reason) {
    case refusal_reason::too_many_connections:
      return "421 4.3.2 Too many connections\r\n";
    case refusal_reason::too_many_connections_from_address:
      return "421 4.3.2 Too many connections from your address\r\n";
  }
  return "421 4.3.2 Try again later\r\n";
}

}  // namespace packmail::protocols::lmtp
