// SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB,
// NAMESPACE (RFC 2342) and STATUS (RFC 3501 6.3), with CHILDREN (RFC 3348) and SPECIAL-USE
// (RFC 6154) attributes.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "../session_context.h"
#include "packmail/protocols/imap/mailbox_name.h"

namespace packmail::protocols::imap {
namespace {

constexpr std::string_view k_system_flags = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";

std::optional<reply> open_mailbox(session_context& ctx, command& cmd, bool read_only) {
  if (cmd.args.size() != 1) return bad("Expected one mailbox name");
  auto name = mailbox_argument(cmd.args[0]);
  if (!name) return bad("Invalid mailbox name");
  // RFC 3501 6.3.1: a SELECT that fails leaves the client unselected.
  ctx.deselect();
  const storage::user_id user = ctx.user_id();
  auto info = ctx.store().get_mailbox(user, *name);
  if (!info) return storage_failure(info.error());
  auto view = mailbox_view::open(ctx.store(), *info, read_only, ctx.wake, ctx.config.recent.get());
  if (!view) return storage_failure(view.error());
  // The counters, re-read after the view is loaded so UIDNEXT is not stale.
  auto current = ctx.store().get_mailbox(info->id);
  if (current) info = std::move(current);

  mailbox_view& v = **view;
  std::set<std::string> keywords;
  std::uint32_t first_unseen = 0;
  for (std::uint32_t seq = 1; seq <= v.exists(); ++seq) {
    const view_message& m = v.at(seq);
    keywords.insert(m.keywords.begin(), m.keywords.end());
    if (!first_unseen && !(m.flags & storage::flag_seen)) first_unseen = seq;
  }
  std::string flags(k_system_flags);
  for (const std::string& k : keywords) flags += " " + k;
  ctx.out += "* FLAGS (" + flags + ")\r\n";
  ctx.out += "* OK [PERMANENTFLAGS (" + (read_only ? std::string() : flags + " \\*") +
             ")] Flags permitted\r\n";
  ctx.out += "* " + std::to_string(v.exists()) + " EXISTS\r\n";
  ctx.out += "* " + std::to_string(v.recent()) + " RECENT\r\n";
  if (first_unseen) {
    ctx.out += "* OK [UNSEEN " + std::to_string(first_unseen) + "] First unseen\r\n";
  }
  ctx.out += "* OK [UIDVALIDITY " + std::to_string(v.uidvalidity()) + "] UIDs valid\r\n";
  const storage::imap_uid uidnext = std::max(info->uidnext, v.max_uid() + 1);
  ctx.out += "* OK [UIDNEXT " + std::to_string(uidnext) + "] Predicted next UID\r\n";
  std::string user_name = *ctx.user_name();
  ctx.state = selected{std::move(user_name), user, std::move(view).value()};
  return ok(read_only ? "[READ-ONLY] EXAMINE completed" : "[READ-WRITE] SELECT completed");
}

// A name as the client may send it: the trailing separator is a hint only
// (RFC 3501 6.3.3).
std::string strip_trailing_separator(std::string name) {
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  return name;
}

bool is_inbox(std::string_view name) { return iequals_ascii(name, "INBOX"); }

// LIST patterns (RFC 3501 6.3.8): "*" matches anything, "%" anything but the
// separator. Runs over the set of pattern positions, so no pattern is slow.
bool wildcard_match(std::string_view pattern, std::string_view name) {
  std::vector<char> current(pattern.size() + 1, 0), next(pattern.size() + 1, 0);
  auto close_over_wildcards = [&](std::vector<char>& states) {
    for (std::size_t i = 0; i < pattern.size(); ++i) {
      if (states[i] && (pattern[i] == '*' || pattern[i] == '%')) states[i + 1] = 1;
    }
  };
  current[0] = 1;
  close_over_wildcards(current);
  for (char c : name) {
    std::fill(next.begin(), next.end(), 0);
    for (std::size_t i = 0; i < pattern.size(); ++i) {
      if (!current[i]) continue;
      if (pattern[i] == '*' || (pattern[i] == '%' && c != '/')) {
        next[i] = 1;
      } else if (pattern[i] == c) {
        next[i + 1] = 1;
      }
    }
    close_over_wildcards(next);
    current.swap(next);
  }
  return current[pattern.size()];
}

// INBOX is case-insensitive (RFC 3501 5.1): canonicalize its spelling in a
// pattern as the store does in names.
std::string canonical_pattern(std::string pattern) {
  if (pattern.size() >= 5 && is_inbox(std::string_view(pattern).substr(0, 5)) &&
      (pattern.size() == 5 || pattern[5] == '/')) {
    for (std::size_t i = 0; i < 5; ++i) pattern[i] = "INBOX"[i];
  }
  return pattern;
}

std::string special_use_attributes(std::uint8_t uses) {
  std::string out;
  auto add = [&out](std::string_view a) {
    out += ' ';
    out += a;
  };
  if (uses & storage::use_all) add("\\All");
  if (uses & storage::use_archive) add("\\Archive");
  if (uses & storage::use_drafts) add("\\Drafts");
  if (uses & storage::use_flagged) add("\\Flagged");
  if (uses & storage::use_junk) add("\\Junk");
  if (uses & storage::use_sent) add("\\Sent");
  if (uses & storage::use_trash) add("\\Trash");
  return out;
}

struct list_entry {
  bool exists = false;
  bool has_children = false;
  std::uint8_t special_use = 0;
};

// Every name plus the parents implied by a deeper name.
std::map<std::string, list_entry> build_tree(
    const std::vector<std::pair<std::string, std::uint8_t>>& names) {
  std::map<std::string, list_entry> tree;
  for (const auto& [name, uses] : names) {
    list_entry& e = tree[name];
    e.exists = true;
    e.special_use = uses;
    for (std::size_t slash = name.find('/'); slash != std::string::npos;
         slash = name.find('/', slash + 1)) {
      tree[name.substr(0, slash)].has_children = true;
    }
  }
  return tree;
}

std::optional<reply> list_or_lsub(session_context& ctx, command& cmd, bool lsub) {
  const std::string_view verb = lsub ? "LSUB" : "LIST";
  if (cmd.args.size() != 2) {
    return bad(std::string(verb) + " needs a reference and a mailbox pattern");
  }
  auto reference_text = cmd.args[0].astring();
  auto pattern_text = cmd.args[1].list_mailbox();
  if (!reference_text || !pattern_text) return bad("Invalid LIST arguments");
  auto reference = mutf7_to_utf8(*reference_text);
  auto pattern = mutf7_to_utf8(*pattern_text);
  if (!reference || !pattern) return bad("Invalid modified UTF-7 in mailbox name");

  const std::string prefix = "* " + std::string(verb) + " (";
  if (pattern.value().empty()) {
    // RFC 3501 6.3.8: the hierarchy delimiter and root name.
    if (!lsub) ctx.out += prefix + "\\Noselect) \"/\" \"\"\r\n";
    return ok(std::string(verb) + " completed");
  }
  const std::string full = canonical_pattern(reference.value() + pattern.value());

  std::vector<std::pair<std::string, std::uint8_t>> names;
  if (lsub) {
    auto subscriptions = ctx.store().list_subscriptions(ctx.user_id());
    if (!subscriptions) return storage_failure(subscriptions.error());
    for (const std::string& s : *subscriptions) names.emplace_back(s, 0);
  } else {
    auto boxes = ctx.store().list_mailboxes(ctx.user_id());
    if (!boxes) return storage_failure(boxes.error());
    for (const storage::mailbox_info& b : *boxes) names.emplace_back(b.name, b.special_use);
  }
  const auto tree = build_tree(names);

  // RFC 3501 6.3.8: with "%" last, unselectable levels are listed too.
  const bool list_implied = full.back() == '%';
  for (const auto& [name, entry] : tree) {
    if (!entry.exists && !list_implied) continue;
    if (!wildcard_match(full, name)) continue;
    std::string attributes;
    if (!entry.exists) attributes = "\\Noselect";
    if (!lsub) {  // CHILDREN (RFC 3348) and SPECIAL-USE (RFC 6154) for LIST
      attributes += attributes.empty() ? "" : " ";
      attributes += entry.has_children ? "\\HasChildren" : "\\HasNoChildren";
      attributes += special_use_attributes(entry.special_use);
    }
    ctx.out += prefix + attributes + ") \"/\" " + mailbox_value(name) + "\r\n";
  }
  return ok(std::string(verb) + " completed");
}

}  // namespace

std::optional<reply> handle_select(session_context& ctx, command& cmd) {
  return open_mailbox(ctx, cmd, false);
}

std::optional<reply> handle_examine(session_context& ctx, command& cmd) {
  return open_mailbox(ctx, cmd, true);
}

std::optional<reply> handle_create(session_context& ctx, command& cmd) {
  if (cmd.args.size() != 1) return bad("Expected one mailbox name");
  auto argument = mailbox_argument(cmd.args[0]);
  if (!argument) return bad("Invalid mailbox name");
  const std::string name = strip_trailing_separator(*argument);
  if (is_inbox(name)) return no("[ALREADYEXISTS] INBOX always exists");
  auto& store = ctx.store();
  // RFC 3501 6.3.3: create the superior names that are needed.
  for (std::size_t slash = name.find('/'); slash != std::string::npos;
       slash = name.find('/', slash + 1)) {
    if (slash == 0) break;
    auto parent = store.create_mailbox(ctx.user_id(), name.substr(0, slash));
    if (!parent && parent.code() != storage::errc::exists) break;
  }
  auto created = store.create_mailbox(ctx.user_id(), name);
  if (!created) {
    if (created.code() == storage::errc::invalid_argument) {
      return no("[CANNOT] Invalid mailbox name");
    }
    return storage_failure(created.error());
  }
  return ok("CREATE completed");
}

std::optional<reply> handle_delete(session_context& ctx, command& cmd) {
  if (cmd.args.size() != 1) return bad("Expected one mailbox name");
  auto name = mailbox_argument(cmd.args[0]);
  if (!name) return bad("Invalid mailbox name");
  if (is_inbox(*name)) return no("[CANNOT] INBOX cannot be deleted");
  auto info = ctx.store().get_mailbox(ctx.user_id(), *name);
  if (!info) return storage_failure(info.error());
  if (mailbox_view* view = ctx.view(); view && view->id() == info->id) ctx.deselect();
  if (auto s = ctx.store().delete_mailbox(ctx.user_id(), *name); !s) return storage_failure(s);
  return ok("DELETE completed");
}

std::optional<reply> handle_rename(session_context& ctx, command& cmd) {
  if (cmd.args.size() != 2) return bad("RENAME needs two mailbox names");
  auto from = mailbox_argument(cmd.args[0]);
  auto to_argument = mailbox_argument(cmd.args[1]);
  if (!from || !to_argument) return bad("Invalid mailbox name");
  const std::string to = strip_trailing_separator(*to_argument);
  if (is_inbox(to)) return no("[ALREADYEXISTS] INBOX always exists");
  auto status = ctx.store().rename_mailbox(ctx.user_id(), *from, to);
  if (!status) {
    if (status.code() == storage::errc::invalid_argument) {
      return no("[CANNOT] Invalid mailbox name");
    }
    return storage_failure(status);
  }
  if (mailbox_view* view = ctx.view()) {
    auto info = ctx.store().get_mailbox(view->id());
    if (info) view->rename(info->name);
  }
  return ok("RENAME completed");
}

std::optional<reply> handle_subscribe(session_context& ctx, command& cmd) {
  if (cmd.args.size() != 1) return bad("Expected one mailbox name");
  auto name = mailbox_argument(cmd.args[0]);
  if (!name) return bad("Invalid mailbox name");
  auto status = ctx.store().set_subscribed(ctx.user_id(), strip_trailing_separator(*name), true);
  if (!status) return storage_failure(status);
  return ok("SUBSCRIBE completed");
}

std::optional<reply> handle_unsubscribe(session_context& ctx, command& cmd) {
  if (cmd.args.size() != 1) return bad("Expected one mailbox name");
  auto name = mailbox_argument(cmd.args[0]);
  if (!name) return bad("Invalid mailbox name");
  auto status = ctx.store().set_subscribed(ctx.user_id(), strip_trailing_separator(*name), false);
  if (!status) return storage_failure(status);
  return ok("UNSUBSCRIBE completed");
}

std::optional<reply> handle_list(session_context& ctx, command& cmd) {
  return list_or_lsub(ctx, cmd, false);
}

std::optional<reply> handle_lsub(session_context& ctx, command& cmd) {
  return list_or_lsub(ctx, cmd, true);
}

std::optional<reply> handle_namespace(session_context& ctx, command& cmd) {
  if (!cmd.args.empty()) return bad("NAMESPACE takes no arguments");
  // RFC 2342: one personal namespace, no shared or other users' ones.
  ctx.out += "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n";
  return ok("NAMESPACE completed");
}

namespace {

// STATUS RECENT: the messages no session has claimed (STATUS claims none).
std::uint32_t recent_count(session_context& ctx, const storage::mailbox_info& info) {
  if (!ctx.config.recent) return 0;
  const auto first = ctx.config.recent->first_unclaimed(info.id);
  if (!first || *first >= info.uidnext) return 0;
  auto messages = ctx.store().list_messages(info.id);
  if (!messages) return 0;
  return static_cast<std::uint32_t>(
      std::count_if(messages->begin(), messages->end(),
                    [&](const storage::message_info& m) { return m.uid >= *first; }));
}

}  // namespace

std::optional<reply> handle_status(session_context& ctx, command& cmd) {
  if (cmd.args.size() != 2 || !cmd.args[1].is_list() || cmd.args[1].children.empty()) {
    return bad("STATUS needs a mailbox name and a list of items");
  }
  auto name = mailbox_argument(cmd.args[0]);
  if (!name) return bad("Invalid mailbox name");
  auto info = ctx.store().get_mailbox(ctx.user_id(), *name);
  std::string items;
  for (const token& item : cmd.args[1].children) {
    if (!items.empty()) items += ' ';
    if (item.is_atom("MESSAGES")) {
      items += "MESSAGES " + (info ? std::to_string(info->messages) : "");
    } else if (item.is_atom("RECENT")) {
      items += "RECENT " + (info ? std::to_string(recent_count(ctx, *info)) : "");
    } else if (item.is_atom("UIDNEXT")) {
      items += "UIDNEXT " + (info ? std::to_string(info->uidnext) : "");
    } else if (item.is_atom("UIDVALIDITY")) {
      items += "UIDVALIDITY " + (info ? std::to_string(info->uidvalidity) : "");
    } else if (item.is_atom("UNSEEN")) {
      items += "UNSEEN " + (info ? std::to_string(info->unseen) : "");
    } else {
      return bad("Unknown STATUS item");
    }
  }
  if (!info) return storage_failure(info.error());
  ctx.out += "* STATUS " + mailbox_value(info->name) + " (" + items + ")\r\n";
  return ok("STATUS completed");
}

}  // namespace packmail::protocols::imap
