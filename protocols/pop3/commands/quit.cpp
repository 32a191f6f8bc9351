// QUIT (RFC 1939 4, 6): from AUTHORIZATION it only closes; from TRANSACTION
// it enters the UPDATE state, where the messages marked by DELE are
// expunged from the store, and then closes either way.
#include <string>
#include <vector>

#include "../session_context.h"

namespace packmail::protocols::pop3 {

void handle_quit(session_context& ctx, const command&) {
  maildrop* drop = ctx.drop();
  if (!drop) {
    ctx.ok("Logging out");
    ctx.end();
    return;
  }
  std::vector<storage::imap_uid> deleted;
  std::vector<storage::imap_uid> seen;
  for (const maildrop_message& m : drop->messages) {
    if (m.deleted) {
      deleted.push_back(m.uid);
    } else if (m.retrieved) {
      seen.push_back(m.uid);
    }
  }
  if (!seen.empty()) {
    // Best effort, like Dovecot's pop3 \Seen update: a failure here must
    // not keep the deletions from happening.
    storage::flag_change change;
    change.op = storage::flag_op::add;
    change.flags = storage::flag_seen;
    (void)ctx.store().store_flags(drop->mailbox, seen, change);
  }
  if (!deleted.empty()) {
    // Messages another session expunged meanwhile are skipped by the store.
    auto expunged = ctx.store().expunge(drop->mailbox, deleted);
    if (!expunged) {
      // RFC 1939 6: "-ERR some deleted messages not removed"; the lock is
      // released and the connection closed whether or not removal worked.
      ctx.err(storage_failure(expunged.code()) + "; deleted messages were not removed");
      ctx.end();
      return;
    }
  }
  ctx.ok("Logging out; " + std::to_string(deleted.size()) + " messages deleted");
  ctx.end();
}

}  // namespace packmail::protocols::pop3
