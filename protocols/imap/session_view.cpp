// The selected mailbox's view: sequence numbers, and the announcement of
// other sessions' changes (RFC 3501 7.3.1 EXISTS, 7.4.1 EXPUNGE, 7.4.2 FETCH).
#include <algorithm>

#include "session_context.h"

namespace packmail::protocols::imap {

mailbox_view::mailbox_view(storage::mail_store& store, const storage::mailbox_info& info,
                           bool read_only)
    : store_(store),
      id_(info.id),
      name_(info.name),
      read_only_(read_only),
      uidvalidity_(info.uidvalidity),
      synced_(info.highest_modseq) {}

mailbox_view::~mailbox_view() = default;

storage::result<std::unique_ptr<mailbox_view>> mailbox_view::open(storage::mail_store& store,
                                                                  const storage::mailbox_info& info,
                                                                  bool read_only,
                                                                  wake_function wake,
                                                                  recent_registry* recent) {
  std::unique_ptr<mailbox_view> view(new mailbox_view(store, info, read_only));
  view->recent_registry_ = recent;
  // Watch first, then read: a change in between is replayed by the next
  // sync(), which is idempotent.
  view->watch_ = store.watch(info.id, [changed = view->changed_, wake = std::move(wake)](
                                          storage::mailbox_id, storage::modseq_t) {
    changed->store(true);
    if (wake) wake();
  });
  auto current = store.get_mailbox(info.id);
  if (!current) return current.error();
  view->synced_ = current->highest_modseq;
  view->uidvalidity_ = current->uidvalidity;
  auto messages = store.list_messages(info.id);
  if (!messages) return messages.error();
  view->messages_.reserve(messages->size());
  for (storage::message_info& m : *messages) {
    view->messages_.push_back({m.uid, m.flags, std::move(m.keywords), m.modseq});
  }
  view->mark_recent(0, current->uidnext);
  return view;
}

void mailbox_view::mark_recent(std::size_t from, storage::imap_uid uidnext) {
  if (!recent_registry_) return;
  std::optional<storage::imap_uid> first;
  if (read_only_) {
    first = recent_registry_->first_unclaimed(id_);
  } else {
    first = recent_registry_->claim(id_, std::max(uidnext, max_uid() + 1));
  }
  if (!first) return;
  for (std::size_t i = from; i < messages_.size(); ++i) {
    if (messages_[i].uid >= *first && !messages_[i].recent) {
      messages_[i].recent = true;
      ++recent_count_;
    }
  }
}

storage::imap_uid recent_registry::claim(storage::mailbox_id mailbox, storage::imap_uid uidnext) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = first_unclaimed_.try_emplace(mailbox, uidnext);
  if (inserted) return uidnext;
  const storage::imap_uid first = it->second;
  it->second = std::max(it->second, uidnext);
  return std::min(first, uidnext);
}

std::optional<storage::imap_uid> recent_registry::first_unclaimed(
    storage::mailbox_id mailbox) const {
  std::lock_guard lock(mutex_);
  auto it = first_unclaimed_.find(mailbox);
  if (it == first_unclaimed_.end()) return std::nullopt;
  return it->second;
}

std::uint32_t mailbox_view::seq_of(storage::imap_uid uid) const {
  auto it = std::lower_bound(messages_.begin(), messages_.end(), uid,
                             [](const view_message& m, storage::imap_uid u) { return m.uid < u; });
  if (it == messages_.end() || it->uid != uid) return 0;
  return static_cast<std::uint32_t>(it - messages_.begin()) + 1;
}

void mailbox_view::remember(const storage::message_info& info) {
  if (std::uint32_t seq = seq_of(info.uid)) {
    view_message& m = at(seq);
    m.flags = info.flags;
    m.keywords = info.keywords;
    m.modseq = info.modseq;
  }
}

void mailbox_view::expunge(storage::imap_uid uid, std::string& out) {
  const std::uint32_t seq = seq_of(uid);
  if (seq == 0) return;
  if (at(seq).expunged) --held_expunges_;
  if (at(seq).recent) --recent_count_;
  messages_.erase(messages_.begin() + (seq - 1));
  out += "* " + std::to_string(seq) + " EXPUNGE\r\n";
}

bool mailbox_view::sync(std::string& out, bool allow_expunge, bool with_uid) {
  // Every commit to the mailbox (this session's own included) sets changed_
  // through the watch before the committing call returns, so with the flag
  // clear the journal has nothing new: skip reading it on this per-command
  // path, unless expunges held back earlier may be announced now.
  if (!changed_->exchange(false) && !(allow_expunge && held_expunges_ > 0)) return true;
  auto changes = store_.changes_since(id_, synced_);
  if (!changes) return changes.code() != storage::errc::not_found;
  std::vector<storage::imap_uid> appended;
  std::vector<storage::change> flagged;
  for (const storage::change& c : *changes) {
    synced_ = std::max(synced_, c.modseq);
    switch (c.kind) {
      case storage::change_kind::append:
        if (c.uid > max_uid()) appended.push_back(c.uid);
        break;
      case storage::change_kind::flags:
        flagged.push_back(c);
        break;
      case storage::change_kind::expunge:
        if (std::uint32_t seq = seq_of(c.uid); seq != 0 && !at(seq).expunged) {
          at(seq).expunged = true;
          ++held_expunges_;
        }
        break;
    }
  }
  // Flag changes of messages the client knows (RFC 3501 7.4.2). Changes at or
  // below a message's known modseq were recorded by remember() already (this
  // session's own STORE or FETCH): no need to read them back.
  std::sort(flagged.begin(), flagged.end(), [](const storage::change& a, const storage::change& b) {
    return a.uid < b.uid || (a.uid == b.uid && a.modseq > b.modseq);
  });
  flagged.erase(std::unique(flagged.begin(), flagged.end(),
                            [](const storage::change& a, const storage::change& b) {
                              return a.uid == b.uid;
                            }),
                flagged.end());
  for (const storage::change& c : flagged) {
    const std::uint32_t seq = seq_of(c.uid);
    if (seq == 0 || at(seq).expunged || c.modseq <= at(seq).modseq) continue;
    auto info = store_.get_message(id_, c.uid);
    if (!info) continue;
    view_message& m = at(seq);
    m.modseq = info->modseq;
    if (m.flags == info->flags && m.keywords == info->keywords) continue;
    m.flags = info->flags;
    m.keywords = std::move(info->keywords);
    out += "* " + std::to_string(seq) + " FETCH (";
    if (with_uid) out += "UID " + std::to_string(c.uid) + " ";
    out += "FLAGS " + flag_list(m.flags, m.keywords, m.recent) + ")\r\n";
  }
  // Appends, in UID order; those expunged meanwhile are simply skipped.
  std::sort(appended.begin(), appended.end());
  bool grew = false;
  const std::size_t old_size = messages_.size();
  for (storage::imap_uid uid : appended) {
    if (uid <= max_uid()) continue;
    auto info = store_.get_message(id_, uid);
    if (!info) continue;
    messages_.push_back({uid, info->flags, std::move(info->keywords), info->modseq});
    grew = true;
  }
  if (grew) mark_recent(old_size, max_uid() + 1);
  if (allow_expunge && held_expunges_ > 0) {
    // One compacting pass: a message's sequence number when its EXPUNGE goes
    // out is the count of messages kept before it, plus one.
    std::size_t kept = 0;
    for (std::size_t i = 0; i < messages_.size(); ++i) {
      if (messages_[i].expunged) {
        if (messages_[i].recent) --recent_count_;
        --held_expunges_;
        out += "* " + std::to_string(kept + 1) + " EXPUNGE\r\n";
      } else {
        if (kept != i) messages_[kept] = std::move(messages_[i]);
        ++kept;
      }
    }
    messages_.resize(kept);
  }
  if (grew) {
    // RFC 3501 7.3.2: RECENT goes with EXISTS when new messages arrive.
    out += "* " + std::to_string(exists()) + " EXISTS\r\n";
    out += "* " + std::to_string(recent_count_) + " RECENT\r\n";
  }
  return true;
}

syntax_result<std::vector<std::uint32_t>> mailbox_view::resolve(const sequence_set& set,
                                                                bool uid) const {
  if (set.uses_saved_result()) return make_syntax_error(std::string(k_no_saved_result));
  std::vector<std::uint32_t> seqs;
  if (!uid) {
    const auto ranges = set.resolve(exists());
    for (const sequence_range& r : ranges) {
      if (r.last > exists() || r.first == 0) {
        return make_syntax_error("Invalid message sequence number");
      }
      for (std::uint32_t n = r.first;; ++n) {
        seqs.push_back(n);
        if (n == r.last) break;
      }
    }
    return seqs;
  }
  const auto ranges = set.resolve(max_uid());
  for (std::size_t i = 0; i < messages_.size(); ++i) {
    if (contains(ranges, messages_[i].uid)) seqs.push_back(static_cast<std::uint32_t>(i + 1));
  }
  return seqs;
}

}  // namespace packmail::protocols::imap
