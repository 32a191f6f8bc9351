// MAIL and RCPT: the envelope of a mail transaction.
#include <exception>

#include "../session_context.h"

namespace packmail::protocols::lmtp {

namespace {

// address_status: the enhanced code for a bad address (RFC 3463 X.1.7 bad
// sender, X.1.3 bad destination address syntax).
reply argument_failure(const argument_error& e, std::string_view address_status) {
  switch (e.code) {
    case argument_error_code::syntax:
    case argument_error_code::bad_parameter:
      return make_reply(501, "5.5.4", e.message);
    case argument_error_code::bad_address:
      return make_reply(501, std::string(address_status), e.message);
    case argument_error_code::unknown_parameter:
      // RFC 5321 4.1.1.11: parameters not recognized or not implemented.
      return make_reply(555, "5.5.4", e.message);
  }
  return make_reply(501, "5.5.4", e.message);
}

recipient_lookup lookup(session_context& ctx, const address& a) {
  if (!ctx.config.resolve) return lookup_failure{};
  try {
    return ctx.config.resolve(a.local_part, a.domain);
  } catch (const std::exception&) {
    return lookup_failure{};
  }
}

}  // namespace

reply handle_mail(session_context& ctx, const command& cmd) {
  auto parsed = parse_mail_arguments(cmd.arguments);
  if (auto* e = std::get_if<argument_error>(&parsed)) return argument_failure(*e, "5.1.7");
  mail_arguments& args = std::get<mail_arguments>(parsed);
  // RFC 1870 6.1: a declared size over the fixed limit gets 552 at MAIL.
  if (args.size && *args.size > ctx.max_message_size()) {
    return make_reply(552, "5.3.4", "Message size exceeds fixed maximum message size");
  }
  ctx.state = in_transaction{std::move(args.sender), {}};
  return make_reply(250, "2.1.0", "OK");
}

reply handle_rcpt(session_context& ctx, const command& cmd) {
  auto parsed = parse_rcpt_arguments(cmd.arguments);
  if (auto* e = std::get_if<argument_error>(&parsed)) return argument_failure(*e, "5.1.3");
  address& rcpt = std::get<rcpt_arguments>(parsed).recipient;
  auto& transaction = std::get<in_transaction>(ctx.state);
  // RFC 5321 4.5.3.1.10: "452 Too many recipients" (RFC 3463 X.5.3).
  if (transaction.recipients.size() >= ctx.config.max_recipients) {
    return make_reply(452, "4.5.3", "Too many recipients");
  }
  const recipient_lookup found = lookup(ctx, rcpt);
  if (std::holds_alternative<unknown_recipient>(found)) {
    return make_reply(550, "5.1.1", "<" + rcpt.text + "> User unknown");
  }
  const auto* target = std::get_if<recipient>(&found);
  if (!target || target->user.empty()) {
    return make_reply(451, "4.3.0", "<" + rcpt.text + "> Temporary user lookup failure");
  }
  transaction.recipients.push_back(accepted_recipient{std::move(rcpt), *target});
  return make_reply(250, "2.1.5", "OK");
}

}  // namespace packmail::protocols::lmtp
