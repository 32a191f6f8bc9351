// Dovecot's passwd-file format
// (https://doc.dovecot.org/configuration_manual/authentication/passwd_file/):
//
//   user:{SCHEME}hash[:uid:gid:gecos:home:shell:extra_fields]
//
// One user per line; blank lines and lines starting with '#' are ignored; a
// trailing CR is ignored (files edited on Windows). Everything after the
// seventh ':' is the extra_fields column (it may itself contain ':'). User
// names are matched case-insensitively; a name that differs only in case from
// an earlier one is a duplicate.
//
// The parser is I/O-free and never throws on bad input (it is fuzzed:
// tests/fuzz/fuzz_passwd_file.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "users/password.h"

namespace packmail::server {

struct passwd_entry {
  std::string user;  // as written in the file
  stored_password password;
  std::optional<std::uint32_t> uid;  // empty column: nullopt
  std::optional<std::uint32_t> gid;
  std::string gecos, home, shell, extra_fields;
  std::size_t line = 0;  // 1-based line number in the file
};

struct passwd_error {
  std::size_t line = 0;  // 1-based
  std::string message;   // "line 3: unknown password scheme {FOO}"
};

// An immutable, parsed table. Lookups are case-insensitive.
class passwd_table {
 public:
  passwd_table() = default;
  // nullptr when there is no such user.
  const passwd_entry* find(std::string_view user) const;
  std::size_t size() const { return entries_.size(); }
  const std::vector<passwd_entry>& entries() const { return entries_; }

 private:
  friend struct passwd_parse_result parse_passwd_file(std::string_view text);
  std::vector<passwd_entry> entries_;           // file order
  std::map<std::string, std::size_t> by_name_;  // lower-cased name -> index
};

struct passwd_parse_result {
  passwd_table table;                // the valid lines (complete only if errors is empty)
  std::vector<passwd_error> errors;  // in line order
  bool ok() const { return errors.empty(); }
};

passwd_parse_result parse_passwd_file(std::string_view text);

// ASCII lower case: the key user names are compared by.
std::string fold_user_name(std::string_view user);

// Why a user name cannot be written to a passwd-file, or "" when it can: it
// must be non-empty, at most 255 bytes, without ':', whitespace or control
// characters, and must not start with '#'.
std::string check_user_name(std::string_view user);

}  // namespace packmail::server
