// DATA and the delivery of the message read after it: one append with one
// target per recipient, one reply per accepted RCPT (RFC 2033 4.2).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "../session_context.h"
#include "packmail/protocols/ascii.h"

namespace packmail::protocols::lmtp {

namespace {

constexpr std::size_t k_none = static_cast<std::size_t>(-1);

// The recipient's folder when it exists, else INBOX.
storage::result<storage::mailbox_info> target_mailbox(storage::mail_store& store,
                                                      storage::user_id user,
                                                      const std::optional<std::string>& folder) {
  if (folder && !folder->empty()) {
    auto box = store.get_mailbox(user, *folder);
    if (box ||
        (box.code() != storage::errc::not_found && box.code() != storage::errc::invalid_argument)) {
      return box;
    }
  }
  return store.get_mailbox(user, "INBOX");
}

// "[192.0.2.1]" / "[IPv6:2001:db8::1]" (RFC 5321 4.1.3), or "" for a unix
// socket.
std::string client_address(const connection_info& c) {
  if (c.remote_address.empty() || c.remote_address == "unix") return {};
  const bool v6 = c.remote_address.find(':') != std::string::npos;
  return (v6 ? " ([IPv6:" : " ([") + c.remote_address + "])";
}

std::string header_prefix(const session_context& ctx, const in_transaction& transaction,
                          const accepted_recipient& rcpt, const std::string& id, std::int64_t now) {
  std::string prefix = "Return-Path: <";
  if (transaction.sender) prefix += transaction.sender->text;
  prefix += ">\r\nDelivered-To: " + rcpt.forward_path.text + "\r\n";
  if (ctx.config.add_received_header) {
    prefix += "Received: from " + ctx.client_name + client_address(ctx.connection) + "\r\n\tby " +
              ctx.config.host_name + " with LMTP id " + id + "\r\n\tfor <" +
              rcpt.forward_path.text + ">; " + rfc5322_date(now) + "\r\n";
  }
  return prefix;
}

// Recipients with equal keys are one delivery: the same address in any case,
// resolved to the same user and folder (folder names are case-sensitive).
std::string delivery_key(const accepted_recipient& rcpt) {
  std::string key = to_lower_ascii(rcpt.forward_path.text);
  key += '\n' + rcpt.target.user + '\n';
  if (rcpt.target.folder) key += "+" + *rcpt.target.folder;
  return key;
}

reply for_recipient(reply r, const accepted_recipient& rcpt) {
  r.lines.back() = "<" + rcpt.forward_path.text + "> " + r.lines.back();
  return r;
}

}  // namespace

reply handle_data(session_context& ctx, const command& cmd) {
  if (!cmd.arguments.empty()) return make_reply(501, "5.5.4", "Syntax: DATA");
  auto& transaction = std::get<in_transaction>(ctx.state);
  // RFC 2033 4.2: with no successful RCPT, DATA MUST fail with 503.
  if (transaction.recipients.empty()) return make_reply(503, "5.5.1", "No valid recipients");
  ctx.state = receiving_data{std::move(transaction)};
  ctx.parser.expect_data();
  return make_reply(354, "", "Start mail input; end with <CRLF>.<CRLF>");
}

void deliver(session_context& ctx, message_data&& message) {
  auto* receiving = std::get_if<receiving_data>(&ctx.state);
  if (receiving == nullptr) {
    std::fprintf(stderr, "lmtp session: message data outside DATA\n");
    std::abort();
  }
  // RFC 5321 4.1.1.4: the transaction ends with the data, whatever happens.
  const in_transaction transaction = std::move(receiving->transaction);
  ctx.state = ready{};
  const auto& recipients = transaction.recipients;

  if (message.too_large) {
    for (const accepted_recipient& rcpt : recipients) {
      append_reply(ctx.out, for_recipient(make_reply(552, "5.3.4",
                                                     "Message size exceeds fixed maximum "
                                                     "message size"),
                                          rcpt));
    }
    return;
  }

  const std::string id = ctx.next_delivery_id();
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  storage::append_request request;
  request.message = message.text;
  // Per recipient: its own failure before the append, or the earlier
  // recipient it repeats (delivery_key: stored once, same reply, as Dovecot
  // does). Different addresses of one user are separate deliveries, each
  // with its own Delivered-To.
  std::vector<std::optional<reply>> failed(recipients.size());
  std::vector<std::size_t> same_as(recipients.size(), k_none);
  std::map<std::string, std::size_t> first_delivery;
  for (std::size_t i = 0; i < recipients.size(); ++i) {
    const accepted_recipient& rcpt = recipients[i];
    const auto [first, inserted] = first_delivery.emplace(delivery_key(rcpt), i);
    if (!inserted) {
      same_as[i] = first->second;
      continue;
    }
    auto user = ctx.store().ensure_user(rcpt.target.user);
    if (!user) {
      failed[i] = delivery_failure(user.code());
      continue;
    }
    auto box = target_mailbox(ctx.store(), *user, rcpt.target.folder);
    if (!box) {
      failed[i] = delivery_failure(box.code());
      continue;
    }
    storage::append_target target;
    target.mailbox = box->id;
    target.prefix = header_prefix(ctx, transaction, rcpt, id, now);
    request.targets.push_back(std::move(target));
  }

  storage::status stored;
  if (!request.targets.empty()) {
    auto appended = ctx.store().append(request);
    if (!appended) stored = appended.error();
  }

  for (std::size_t i = 0; i < recipients.size(); ++i) {
    const std::size_t source = same_as[i] == k_none ? i : same_as[i];
    reply r = failed[source] ? *failed[source]
              : !stored.ok() ? delivery_failure(stored.code())
                             : make_reply(250, "2.0.0", id + " Saved");
    append_reply(ctx.out, for_recipient(std::move(r), recipients[i]));
  }
}

}  // namespace packmail::protocols::lmtp
