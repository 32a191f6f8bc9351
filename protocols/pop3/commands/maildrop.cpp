// STAT, LIST, UIDL, NOOP, DELE and RSET (RFC 1939 5, 7; RFC 2449 6.1 UIDL):
// the TRANSACTION-state commands that work on the snapshot alone.
#include <limits>
#include <string>

#include "../session_context.h"

namespace packmail::protocols::pop3 {
namespace {

// "1 120\r\n" for LIST, "1 0000000100000001\r\n" for UIDL.
using scan_line = std::string (*)(const maildrop& drop, std::uint32_t number);
// The text of the +OK before the whole listing.
using scan_heading = std::string (*)(const maildrop& drop);

std::string list_value(const maildrop& drop, std::uint32_t number) {
  return std::to_string(drop.messages[number - 1].size);
}

std::string uidl_value(const maildrop& drop, std::uint32_t number) {
  return uidl(drop.messages[number - 1].uid, drop.uidvalidity);
}

// LIST and UIDL: one message with an argument, else every message not
// marked deleted as a multi-line response.
void scan_listing(session_context& ctx, const command& cmd, scan_line value, scan_heading heading) {
  maildrop& drop = *ctx.drop();
  if (cmd.args.size() > 1) return ctx.err("Too many arguments");
  if (cmd.args.size() == 1) {
    auto number = message_argument(ctx, cmd.args[0]);
    if (!number) return;
    return ctx.ok(std::to_string(*number) + " " + value(drop, *number));
  }
  ctx.ok(heading(drop));
  for (std::uint32_t n = 1; n <= drop.messages.size(); ++n) {
    if (drop.messages[n - 1].deleted) continue;
    ctx.out += std::to_string(n);
    ctx.out += ' ';
    ctx.out += value(drop, n);
    ctx.out += "\r\n";
  }
  ctx.out += ".\r\n";
}

}  // namespace

std::optional<std::uint64_t> parse_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  constexpr std::uint64_t k_max = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    value = value > (k_max - digit) / 10 ? k_max : value * 10 + digit;
  }
  return value;
}

std::optional<std::uint32_t> message_argument(session_context& ctx, std::string_view arg) {
  const maildrop& drop = *ctx.drop();
  auto number = parse_number(arg);
  if (!number) {
    ctx.err("Invalid message number");
    return std::nullopt;
  }
  if (*number == 0 || *number > drop.messages.size()) {
    ctx.err("No such message, only " + std::to_string(drop.messages.size()) +
            " messages in maildrop");
    return std::nullopt;
  }
  const auto n = static_cast<std::uint32_t>(*number);
  if (drop.messages[n - 1].deleted) {
    ctx.err("Message " + std::to_string(n) + " already deleted");
    return std::nullopt;
  }
  return n;
}

void handle_stat(session_context& ctx, const command& cmd) {
  if (!cmd.args.empty()) return ctx.err("STAT takes no arguments");
  // RFC 1939 5: "+OK nn mm", messages marked deleted not counted.
  const maildrop& drop = *ctx.drop();
  ctx.ok(std::to_string(drop.count()) + " " + std::to_string(drop.octets()));
}

void handle_list(session_context& ctx, const command& cmd) {
  scan_listing(ctx, cmd, list_value, [](const maildrop& drop) { return drop.summary(); });
}

void handle_uidl(session_context& ctx, const command& cmd) {
  scan_listing(ctx, cmd, uidl_value,
               [](const maildrop&) { return std::string("Unique-ID listing follows"); });
}

void handle_noop(session_context& ctx, const command& cmd) {
  if (!cmd.args.empty()) return ctx.err("NOOP takes no arguments");
  ctx.ok("");
}

void handle_dele(session_context& ctx, const command& cmd) {
  if (cmd.args.size() != 1) return ctx.err("DELE needs one message number");
  auto number = message_argument(ctx, cmd.args[0]);
  if (!number) return;
  // RFC 1939 5: only marked; expunged in the UPDATE state (QUIT).
  ctx.drop()->messages[*number - 1].deleted = true;
  ctx.ok("Message " + std::to_string(*number) + " deleted");
}

void handle_rset(session_context& ctx, const command& cmd) {
  if (!cmd.args.empty()) return ctx.err("RSET takes no arguments");
  maildrop& drop = *ctx.drop();
  for (maildrop_message& m : drop.messages) m.deleted = false;
  ctx.ok(drop.summary());
}

}  // namespace packmail::protocols::pop3
