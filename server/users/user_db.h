// The users packmaild knows: a passwd-file that is re-read when it changes,
// without a restart.
//
// On lookup, at most once per check interval, the file's identity (device,
// inode, size, mtime) is compared with the loaded version's; when it differs
// the file is parsed and, if it parses completely, swapped in atomically. A
// file that does not parse keeps the last good table and logs an error naming
// the line (once per version of the file). A missing file is an empty table.
//
// Thread-safety: all methods may be called concurrently. Readers get a
// shared_ptr to an immutable table, so a reload never changes a table in use.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "users/passwd_file.h"
#include "users/recipient_map.h"

namespace packmail::server {

class user_db {
 public:
  // Loads the file now; a file that does not parse is an error at startup
  // (std::runtime_error with "<path>: line N: ..."), since there is no last
  // good table yet. check_interval: Default: 1 s. rules: how addresses and
  // login names name users (users/recipient_map.h). Default: every domain
  // local, delimiter "+".
  explicit user_db(std::filesystem::path file,
                   std::chrono::steady_clock::duration check_interval = std::chrono::seconds(1),
                   address_rules rules = {});

  // The current table (after a reload check).
  std::shared_ptr<const passwd_table> table();
  // The canonical (folded) name of the user a login names: "alice" or
  // "alice@example.com" (find_login_user), or nullopt.
  std::optional<std::string> resolve_login(std::string_view login);
  // The canonical (folded) user name when the login names a user and the
  // password verifies, else nullopt: the authenticator for IMAP and POP3.
  // Slow by design (Argon2id/crypt), also for unknown users (an Argon2id
  // check against a dummy hash, so timing does not reveal which users
  // exist): call it off the I/O threads.
  std::optional<std::string> authenticate_user(std::string_view login, std::string_view password);
  // authenticate_user(...).has_value().
  bool authenticate(std::string_view user, std::string_view password);
  // Where mail for local_part@domain goes (map_recipient), or nullopt.
  std::optional<mapped_recipient> resolve_recipient(std::string_view local_part,
                                                    std::string_view domain);
  std::size_t user_count() { return table()->size(); }

  // Re-checks the file now, ignoring the interval. Returns true when a new
  // table was loaded.
  bool reload_if_changed();

 private:
  struct identity {
    bool exists = false;
    std::uint64_t dev = 0, ino = 0, size = 0;
    std::int64_t mtime_ns = 0;
    bool operator==(const identity&) const = default;
  };
  identity stat_file() const;
  bool reload_locked(bool at_startup);

  const std::filesystem::path file_;
  const std::chrono::steady_clock::duration check_interval_;
  const address_rules rules_;
  std::mutex mutex_;
  std::shared_ptr<const passwd_table> table_;
  identity loaded_;  // the version table_ or the last rejected file came from
  std::chrono::steady_clock::time_point last_check_;
};

}  // namespace packmail::server
