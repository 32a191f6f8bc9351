// Shared by the backends. The rules of the store contract (store.h) that do not
// depend on how a backend keeps its data: mailbox names, keywords, flag
// changes, UID allocation, UIDVALIDITY and byte ranges. Both backends call
// these, so the contract suite cannot pass on one backend and fail on the
// other because two copies of a rule drifted apart.
//
// Pure functions, safe to call from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "packmail/storage/store.h"

namespace packmail::storage::detail {

inline constexpr std::string_view k_inbox = "INBOX";

// Every RFC 6154 bit store.h defines; other bits of a special-use byte are
// dropped on create_mailbox and set_special_use.
inline constexpr std::uint8_t k_all_special_uses =
    use_all | use_archive | use_drafts | use_flagged | use_junk | use_sent | use_trash;

struct default_mailbox {
  std::string_view name;
  std::uint8_t special_use = 0;
};
// Created with every user (store.h ensure_user), in this order.
inline constexpr std::array<default_mailbox, 6> k_default_mailboxes = {{
    {k_inbox, 0},
    {"Drafts", use_drafts},
    {"Sent", use_sent},
    {"Trash", use_trash},
    {"Junk", use_junk},
    {"Archive", use_archive},
}};

// --- names -------------------------------------------------------------------

// ASCII case folding only: user names and keywords are compared without
// regard to locale.
std::string ascii_lower(std::string_view text);
bool iequals(std::string_view a, std::string_view b);

// "inbox" and "Inbox/x" name INBOX and its children: INBOX is matched
// case-insensitively as the first level (RFC 3501 5.1); other names are kept.
std::string canonical_name(std::string_view name);

// False for an empty name, an empty level ("a//b") or a leading/trailing '/'.
bool valid_name(std::string_view name);

// Checks a rename of canonical `from` to canonical `to` before any lookup:
// exists when they are the same name, invalid_argument when `to` is inside
// `from` (a mailbox cannot become its own descendant); ok otherwise.
status check_rename(std::string_view from, std::string_view to);

// --- UIDVALIDITY and UIDs ----------------------------------------------------

// The UIDVALIDITY of a user's new mailbox: max(now, the user's last + 1), so
// that re-creating a deleted name never repeats one (RFC 3501 2.3.1.1).
std::uint32_t next_uidvalidity(std::uint32_t last_uidvalidity);

// True when `count` more UIDs can be given out starting at `uidnext`: the last
// UID given out is at most 2^32 - 2, so that UIDNEXT stays representable.
bool uids_available(imap_uid uidnext, std::uint64_t count);
// The error for a mailbox whose UID space is used up. RFC 3501 2.3.1.1 would
// need a new UIDVALIDITY here; refusing is safer. over_quota: the mailbox is
// full, which is not a bug (internal) and does not clear by retrying
// (temporary).
status uid_space_exhausted(std::string_view mailbox);

// Ascending and without duplicates.
std::vector<imap_uid> sorted_unique(std::span<const imap_uid> uids);

// --- keywords and flags ------------------------------------------------------

// store.h's "sorted, unique, case preserved": empty keywords dropped, unique
// case-insensitively (RFC 3501 2.3.2: flag names are case-insensitive; the
// first spelling is kept), then sorted bytewise.
std::vector<std::string> normalize_keywords(std::vector<std::string> keywords);

struct flag_state {
  std::uint8_t flags = 0;
  std::vector<std::string> keywords;  // normalized
};

// A message's flags and keywords after `op` with `flags` (masked to
// k_all_flags) and `keywords` (normalized). add keeps the spelling a message
// already has; remove matches any spelling; replace takes `keywords` as given.
flag_state apply_flag_change(std::uint8_t current_flags,
                             const std::vector<std::string>& current_keywords, flag_op op,
                             std::uint8_t flags, const std::vector<std::string>& keywords);

// --- message bytes -------------------------------------------------------------

// Bytes [offset, offset + length) of prefix + body, cut at the end; empty
// when offset is at or past the end (store.h read_message).
std::string slice_message(std::string_view prefix, std::string_view body, std::uint64_t offset,
                          std::uint64_t length);

}  // namespace packmail::storage::detail
