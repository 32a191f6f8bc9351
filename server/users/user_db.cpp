#include "users/user_db.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "users/passwd_edit.h"

namespace packmail::server {

user_db::user_db(std::filesystem::path file, std::chrono::steady_clock::duration check_interval,
                 address_rules rules)
    : file_(std::move(file)),
      check_interval_(check_interval),
      rules_(std::move(rules)),
      table_(std::make_shared<passwd_table>()) {
  std::lock_guard lock(mutex_);
  reload_locked(true);
  last_check_ = std::chrono::steady_clock::now();
}

user_db::identity user_db::stat_file() const {
  struct stat st {};
  if (::stat(file_.c_str(), &st) != 0) return {};
  return {true, static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
          static_cast<std::uint64_t>(st.st_size),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

bool user_db::reload_locked(bool at_startup) {
  const identity now = stat_file();
  if (!at_startup && now == loaded_) return false;
  loaded_ = now;
  if (!now.exists) {
    if (at_startup) {
      spdlog::warn("users file {} does not exist: nobody can log in until it is created",
                   file_.string());
    } else {
      spdlog::warn("users file {} disappeared: no users", file_.string());
    }
    table_ = std::make_shared<passwd_table>();
    return true;
  }
  std::string text;
  try {
    text = read_text_file(file_);
  } catch (const std::exception& e) {
    if (at_startup) throw;
    spdlog::error("{}; keeping the previous {} users", e.what(), table_->size());
    return false;
  }
  auto parsed = parse_passwd_file(text);
  if (!parsed.ok()) {
    const auto message = file_.string() + ": " + parsed.errors.front().message;
    if (at_startup) throw std::runtime_error(message);
    spdlog::error("{} ({} errors); keeping the previous {} users", message, parsed.errors.size(),
                  table_->size());
    return false;
  }
  table_ = std::make_shared<const passwd_table>(std::move(parsed.table));
  spdlog::info("loaded {} users from {}", table_->size(), file_.string());
  return true;
}

bool user_db::reload_if_changed() {
  std::lock_guard lock(mutex_);
  last_check_ = std::chrono::steady_clock::now();
  return reload_locked(false);
}

std::shared_ptr<const passwd_table> user_db::table() {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (now - last_check_ >= check_interval_) {
    last_check_ = now;
    reload_locked(false);
  }
  return table_;
}

std::optional<std::string> user_db::resolve_login(std::string_view login) {
  const auto t = table();
  const passwd_entry* entry = find_login_user(*t, rules_, login);
  if (entry == nullptr) return std::nullopt;
  return fold_user_name(entry->user);
}

std::optional<std::string> user_db::authenticate_user(std::string_view login,
                                                      std::string_view password) {
  const auto t = table();
  const passwd_entry* entry = find_login_user(*t, rules_, login);
  if (entry == nullptr) {
    // Spend the time a real (default-scheme) check takes, so that response
    // times do not tell which user names exist.
    static const stored_password k_dummy =
        *parse_stored_password(hash_password(password_scheme::argon2id, "packmail")).value;
    (void)verify_password(k_dummy, password);
    return std::nullopt;
  }
  if (!verify_password(entry->password, password)) return std::nullopt;
  return fold_user_name(entry->user);
}

bool user_db::authenticate(std::string_view user, std::string_view password) {
  return authenticate_user(user, password).has_value();
}

std::optional<mapped_recipient> user_db::resolve_recipient(std::string_view local_part,
                                                           std::string_view domain) {
  const auto t = table();
  return map_recipient(*t, rules_, local_part, domain);
}

}  // namespace packmail::server
