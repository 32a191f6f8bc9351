// How mail addresses and login names name the users of the passwd-file.
//
// A user may be named "alice" or "alice@example.com" in the file. An address
// local@domain names:
//   1. the user "local@domain", if there is one;
//   2. else the user "local", when domain is local (one of local_domains, or
//      any domain when none are configured).
// An address without a domain ("alice") names the user "local". Everything is
// case-insensitive (user names as passwd_table::find, domains ASCII).
//
// Recipients (LMTP RCPT TO) also honour the recipient delimiter: for
// "alice+work@example.com" the candidates are, in order,
//   alice+work@example.com        (no folder)
//   alice@example.com             folder "work"
//   alice+work                    (no folder)     \ only when example.com is
//   alice                         folder "work"   / local
// The local part is split at its first delimiter character; an empty folder
// ("alice+@...") means none. Logins (IMAP, POP3) use rules 1 and 2 only.
//
// I/O-free and thread-safe (pure functions over an immutable table).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "packmail/protocols/lmtp/session.h"
#include "users/address_rules.h"
#include "users/passwd_file.h"

namespace packmail::server {

// Where a recipient's mail goes: the canonical (folded) user name, and the
// folder named after the delimiter, if any.
struct mapped_recipient {
  std::string user;
  std::optional<std::string> folder;
  bool operator==(const mapped_recipient&) const = default;
};

// Rules 1 and 2 for local_part@domain (domain may be empty); nullptr when
// the address names no user.
const passwd_entry* find_address_user(const passwd_table& table, const address_rules& rules,
                                      std::string_view local_part, std::string_view domain);
// A login name: "alice" or "alice@example.com" (split at the last '@').
const passwd_entry* find_login_user(const passwd_table& table, const address_rules& rules,
                                    std::string_view login);
// A recipient, with the delimiter rule; nullopt when unknown.
std::optional<mapped_recipient> map_recipient(const passwd_table& table, const address_rules& rules,
                                              std::string_view local_part, std::string_view domain);

class user_db;
// The LMTP session's resolver over the users file (re-read when it changes)
// and its rules (the ones user_db was made with): found or unknown, never a temporary
// failure (the table is in memory).
protocols::lmtp::recipient_resolver lmtp_recipient_resolver(std::shared_ptr<user_db> users);

}  // namespace packmail::server
