// APPEND (RFC 3501 6.3.11, APPENDUID from UIDPLUS RFC 4315), CHECK, CLOSE,
// UNSELECT (RFC 3691) and EXPUNGE / UID EXPUNGE.
#include <string>
#include <vector>

#include "../session_context.h"
#include "packmail/protocols/imap/append_arguments.h"
#include "packmail/protocols/imap/mailbox_name.h"

namespace packmail::protocols::imap {
namespace {

// The UIDs of messages marked \Deleted (and in `only`, when given), as the
// store has them now.
storage::result<std::vector<storage::imap_uid>> deleted_uids(
    session_context& ctx, mailbox_view& view, const std::vector<std::uint32_t>* only) {
  auto messages = ctx.store().list_messages(view.id());
  if (!messages) return messages.error();
  std::vector<storage::imap_uid> uids;
  for (const storage::message_info& m : *messages) {
    if (!(m.flags & storage::flag_deleted)) continue;
    if (only) {
      const std::uint32_t seq = view.seq_of(m.uid);
      if (!seq || !std::binary_search(only->begin(), only->end(), seq)) continue;
    }
    uids.push_back(m.uid);
  }
  return uids;
}

}  // namespace

storage::result<storage::mailbox_info> target_mailbox(session_context& ctx, std::string_view name) {
  auto info = ctx.store().get_mailbox(ctx.user_id(), name);
  if (!info && info.code() == storage::errc::not_found) {
    return storage::status(storage::errc::try_create, info.error().message());
  }
  return info;
}

std::optional<reply> handle_append(session_context& ctx, command& cmd) {
  auto request = parse_append(std::move(cmd.args));
  if (!request) return bad(request.error().message);
  auto name = mutf7_to_utf8(request.value().mailbox);
  if (!name) return bad("Invalid mailbox name");
  auto info = target_mailbox(ctx, name.value());
  if (!info) return storage_failure(info.error());
  std::vector<std::uint32_t> uids;
  for (append_message& m : request.value().messages) {
    storage::append_target target;
    target.mailbox = info->id;
    // \Recent, session state, is accepted and ignored.
    if (const std::string* refused = sort_flags(m.flags, true, target.flags, target.keywords)) {
      return bad("Unknown system flag " + *refused);
    }
    storage::append_request store_request;
    store_request.message = m.data;
    if (m.internal_date) {
      store_request.internal_date = m.internal_date->to_unix_seconds();
      store_request.tz_offset = static_cast<std::int16_t>(m.internal_date->zone_minutes);
    }
    store_request.targets.push_back(std::move(target));
    auto appended = ctx.store().append(store_request);
    if (!appended) return storage_failure(appended.error());
    uids.push_back(appended->front().uid);
  }
  return ok("[APPENDUID " + std::to_string(info->uidvalidity) + " " + uid_set(uids) +
            "] APPEND completed");
}

std::optional<reply> handle_check(session_context&, command& cmd) {
  if (!cmd.args.empty()) return bad("CHECK takes no arguments");
  return ok("CHECK completed");
}

std::optional<reply> handle_close(session_context& ctx, command& cmd) {
  if (!cmd.args.empty()) return bad("CLOSE takes no arguments");
  mailbox_view& view = *ctx.view();
  // RFC 3501 6.4.2: expunge silently, and only when opened read-write.
  if (!view.read_only()) {
    auto uids = deleted_uids(ctx, view, nullptr);
    if (!uids) return storage_failure(uids.error());
    if (!uids->empty()) {
      auto expunged = ctx.store().expunge(view.id(), *uids);
      if (!expunged) return storage_failure(expunged.error());
    }
  }
  ctx.deselect();
  return ok("CLOSE completed");
}

std::optional<reply> handle_unselect(session_context& ctx, command& cmd) {
  if (!cmd.args.empty()) return bad("UNSELECT takes no arguments");
  ctx.deselect();
  return ok("UNSELECT completed");
}

std::optional<reply> handle_expunge(session_context& ctx, command& cmd) {
  mailbox_view& view = *ctx.view();
  std::optional<std::vector<std::uint32_t>> only;
  if (cmd.uid) {  // UIDPLUS: UID EXPUNGE sequence-set
    if (cmd.args.size() != 1) return bad("UID EXPUNGE needs a UID set");
    auto set = sequence_set::parse(cmd.args[0].text);
    if (!set || cmd.args[0].is_list() || cmd.args[0].is_string()) return bad("Invalid UID set");
    auto seqs = view.resolve(set.value(), true);
    if (!seqs) return bad(seqs.error().message);
    only = std::move(seqs).value();
  } else if (!cmd.args.empty()) {
    return bad("EXPUNGE takes no arguments");
  }
  if (view.read_only()) return no("[READ-ONLY] Mailbox is read-only");
  auto uids = deleted_uids(ctx, view, only ? &*only : nullptr);
  if (!uids) return storage_failure(uids.error());
  if (uids->empty()) return ok("EXPUNGE completed");
  auto expunged = ctx.store().expunge(view.id(), *uids);
  if (!expunged) return storage_failure(expunged.error());
  for (storage::imap_uid uid : *expunged) view.expunge(uid, ctx.out);
  return ok("EXPUNGE completed");
}

}  // namespace packmail::protocols::imap
