// RETR and TOP (RFC 1939 7, RFC 2449 6.1): the message bytes as a
// byte-stuffed multi-line response.
#include <string>

#include "../session_context.h"

namespace packmail::protocols::pop3 {
namespace {

// The message's bytes in one store call, or nullopt after answering -ERR
// (another session may have expunged it since login).
std::optional<std::string> read(session_context& ctx, std::uint32_t number) {
  const maildrop& drop = *ctx.drop();
  auto bytes = ctx.store().read_message(drop.mailbox, drop.messages[number - 1].uid);
  if (!bytes) {
    ctx.err(storage_failure(bytes.code()));
    return std::nullopt;
  }
  return std::move(bytes).value();
}

}  // namespace

void handle_retr(session_context& ctx, const command& cmd) {
  if (cmd.args.size() != 1) return ctx.err("RETR needs one message number");
  auto number = message_argument(ctx, cmd.args[0]);
  if (!number) return;
  auto bytes = read(ctx, *number);
  if (!bytes) return;
  maildrop_message& message = ctx.drop()->messages[*number - 1];
  message.retrieved = true;
  ctx.ok(std::to_string(message.size) + " octets");
  append_multiline(ctx.out, *bytes);
}

void handle_top(session_context& ctx, const command& cmd) {
  if (cmd.args.size() != 2) return ctx.err("TOP needs a message number and a line count");
  auto number = message_argument(ctx, cmd.args[0]);
  if (!number) return;
  // A count past 2^64 - 1 saturates: the whole body.
  auto lines = parse_number(cmd.args[1]);
  if (!lines) return ctx.err("Invalid line count");
  auto bytes = read(ctx, *number);
  if (!bytes) return;
  ctx.ok("Top of message follows");
  append_multiline(ctx.out, top_of_message(*bytes, *lines));
}

}  // namespace packmail::protocols::pop3
