// libFuzzer target: the Dovecot-format passwd-file parser and the stored
// password parse must never crash, and must keep their invariants, on any
// input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "users/passwd_file.h"
#include "users/password.h"

using namespace packmail::server;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto result = parse_passwd_file(text);
  for (const auto& entry : result.table.entries()) {
    // Every stored entry is found again, case-insensitively, at its own line.
    const auto* found = result.table.find(fold_user_name(entry.user));
    if (found == nullptr || found->line != entry.line) std::abort();
    if (!check_user_name(entry.user).empty()) std::abort();
    // PLAIN verification is cheap and exercises the constant-time compare;
    // the hashing schemes are far too slow to run per input.
    if (entry.password.scheme == password_scheme::plain &&
        !verify_password(entry.password, entry.password.hash)) {
      std::abort();
    }
  }
  for (const auto& error : result.errors) {
    if (error.line == 0 || error.message.empty()) std::abort();
  }
  (void)parse_stored_password(text);
  return 0;
}
