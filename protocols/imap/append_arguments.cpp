#include "packmail/protocols/imap/append_arguments.h"

#include "packmail/protocols/imap/store_arguments.h"

namespace packmail::protocols::imap {

syntax_result<append_request> parse_append(std::vector<token>&& args) {
  append_request request;
  if (args.empty()) return make_syntax_error("APPEND expects a mailbox and a message");
  const auto mailbox = args[0].astring();
  if (!mailbox) return make_syntax_error("Invalid mailbox name");
  request.mailbox.assign(*mailbox);
  std::size_t i = 1;
  while (i < args.size()) {
    append_message message;
    if (args[i].is_list()) {
      auto flags = parse_flag_list(args[i]);
      if (!flags) return flags.error();
      message.flags = std::move(flags.value());
      ++i;
    }
    if (i < args.size() && args[i].kind == token_kind::quoted) {
      auto when = parse_date_time(args[i].text);
      if (!when) return when.error();
      message.internal_date = when.value();
      ++i;
    }
    if (i == args.size() ||
        (args[i].kind != token_kind::literal && args[i].kind != token_kind::literal8)) {
      return make_syntax_error("APPEND expects the message as a literal");
    }
    message.binary = args[i].kind == token_kind::literal8;
    message.data = std::move(args[i].text);
    ++i;
    request.messages.push_back(std::move(message));
  }
  if (request.messages.empty()) return make_syntax_error("APPEND expects a message");
  return request;
}

}  // namespace packmail::protocols::imap
