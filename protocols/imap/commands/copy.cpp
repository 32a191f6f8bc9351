// COPY / UID COPY (RFC 3501 6.4.7, COPYUID from UIDPLUS RFC 4315) and
// MOVE / UID MOVE (RFC 6851).
#include <string>
#include <vector>

#include "../session_context.h"

namespace packmail::protocols::imap {
namespace {

std::optional<reply> copy_or_move(session_context& ctx, command& cmd, bool move) {
  if (cmd.args.size() != 2 || cmd.args[0].is_list() || cmd.args[0].is_string()) {
    return bad("Expected a message set and a mailbox name");
  }
  auto set = sequence_set::parse(cmd.args[0].text);
  if (!set) return bad(set.error().message);
  auto name = mailbox_argument(cmd.args[1]);
  if (!name) return bad("Invalid mailbox name");
  mailbox_view& view = *ctx.view();
  auto seqs = view.resolve(set.value(), cmd.uid);
  if (!seqs) return bad(seqs.error().message);
  if (move && view.read_only()) return no("[READ-ONLY] Mailbox is read-only");

  auto target = target_mailbox(ctx, *name);
  if (!target) return storage_failure(target.error());
  std::vector<storage::imap_uid> uids;
  for (std::uint32_t seq : seqs.value()) uids.push_back(view.at(seq).uid);
  const std::string verb = move ? "MOVE" : "COPY";
  if (uids.empty()) return ok(verb + " completed");
  auto result = ctx.store().copy(view.id(), uids, target->id, move);
  if (!result) return storage_failure(result.error());
  if (result->uids.empty()) {
    // RFC 3501 6.4.7 / 7.4.1: every message named was expunged meanwhile.
    return no("[EXPUNGEISSUED] The messages no longer exist");
  }
  std::vector<std::uint32_t> from, to;
  for (const auto& [source, destination] : result->uids) {
    from.push_back(source);
    to.push_back(destination);
  }
  const std::string code = "[COPYUID " + std::to_string(result->uidvalidity) + " " + uid_set(from) +
                           " " + uid_set(to) + "]";
  if (!move) return ok(code + " COPY completed");
  // RFC 6851 4.3: COPYUID in an untagged OK before the EXPUNGEs.
  ctx.out += "* OK " + code + " Moved\r\n";
  if (target->id != view.id()) {
    for (storage::imap_uid uid : from) view.expunge(uid, ctx.out);
  }
  return ok("MOVE completed");
}

}  // namespace

std::optional<reply> handle_copy(session_context& ctx, command& cmd) {
  return copy_or_move(ctx, cmd, false);
}

std::optional<reply> handle_move(session_context& ctx, command& cmd) {
  return copy_or_move(ctx, cmd, true);
}

}  // namespace packmail::protocols::imap
