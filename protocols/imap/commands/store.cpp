// STORE and UID STORE (RFC 3501 6.4.6).
#include <string>
#include <vector>

#include "../session_context.h"
#include "packmail/protocols/imap/store_arguments.h"

namespace packmail::protocols::imap {

std::optional<reply> handle_store(session_context& ctx, command& cmd) {
  auto request = parse_store(cmd.args);
  if (!request) return bad(request.error().message);
  store_request& r = request.value();
  if (r.unchanged_since) return bad("CONDSTORE is not supported");

  storage::flag_change change;
  change.op = r.op == store_request::operation::add      ? storage::flag_op::add
              : r.op == store_request::operation::remove ? storage::flag_op::remove
                                                         : storage::flag_op::replace;
  // \Recent is session state, not storable; other \Flags do not exist.
  if (const std::string* refused = sort_flags(r.flags, false, change.flags, change.keywords)) {
    return bad("Cannot store " + *refused);
  }

  mailbox_view& view = *ctx.view();
  auto seqs = view.resolve(r.set, cmd.uid);
  if (!seqs) return bad(seqs.error().message);
  if (view.read_only()) return no("[READ-ONLY] Mailbox is read-only");

  std::vector<storage::imap_uid> uids;
  for (std::uint32_t seq : seqs.value()) {
    if (!view.at(seq).expunged) uids.push_back(view.at(seq).uid);
  }
  if (!uids.empty()) {
    auto result = ctx.store().store_flags(view.id(), uids, change);
    if (!result) return storage_failure(result.error());
    for (const storage::message_info& info : result->changed) view.remember(info);
  }
  const bool missing = uids.size() != seqs.value().size();
  if (!r.silent) {
    // RFC 3501 6.4.6: the new flags of each message.
    for (std::uint32_t seq : seqs.value()) {
      const view_message& m = view.at(seq);
      if (m.expunged) continue;
      ctx.out += "* " + std::to_string(seq) + " FETCH (";
      if (cmd.uid) ctx.out += "UID " + std::to_string(m.uid) + " ";
      ctx.out += "FLAGS " + flag_list(m.flags, m.keywords, m.recent) + ")\r\n";
    }
  }
  if (missing) return no("[EXPUNGEISSUED] Some of the messages no longer exist");
  return ok(cmd.uid ? "UID STORE completed" : "STORE completed");
}

}  // namespace packmail::protocols::imap
