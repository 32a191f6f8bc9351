#include "users/recipient_map.h"

#include "packmail/protocols/ascii.h"
#include "users/user_db.h"

namespace packmail::server {
namespace {

const passwd_entry* find_full(const passwd_table& table, std::string_view local_part,
                              std::string_view domain) {
  if (domain.empty()) return nullptr;
  std::string name;
  name.reserve(local_part.size() + 1 + domain.size());
  name.append(local_part).append("@").append(domain);
  return table.find(name);
}

// The bare local part names a user only for a local domain, and only when it
// cannot be mistaken for a full address.
const passwd_entry* find_local(const passwd_table& table, const address_rules& rules,
                               std::string_view local_part, std::string_view domain) {
  if (!domain.empty() && !rules.is_local_domain(domain)) return nullptr;
  if (local_part.find('@') != std::string_view::npos) return nullptr;
  return table.find(local_part);
}

std::optional<mapped_recipient> mapped(const passwd_entry* entry,
                                       std::optional<std::string> folder = std::nullopt) {
  if (entry == nullptr) return std::nullopt;
  return mapped_recipient{fold_user_name(entry->user), std::move(folder)};
}

}  // namespace

bool address_rules::is_local_domain(std::string_view domain) const {
  if (local_domains.empty()) return true;
  for (const std::string& d : local_domains) {
    if (protocols::iequals_ascii(d, domain)) return true;
  }
  return false;
}

const passwd_entry* find_address_user(const passwd_table& table, const address_rules& rules,
                                      std::string_view local_part, std::string_view domain) {
  if (local_part.empty()) return nullptr;
  if (const passwd_entry* e = find_full(table, local_part, domain)) return e;
  return find_local(table, rules, local_part, domain);
}

const passwd_entry* find_login_user(const passwd_table& table, const address_rules& rules,
                                    std::string_view login) {
  const std::size_t at = login.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == login.size()) {
    return table.find(login);
  }
  return find_address_user(table, rules, login.substr(0, at), login.substr(at + 1));
}

std::optional<mapped_recipient> map_recipient(const passwd_table& table, const address_rules& rules,
                                              std::string_view local_part,
                                              std::string_view domain) {
  if (local_part.empty()) return std::nullopt;
  const std::size_t split = rules.recipient_delimiter.empty()
                                ? std::string_view::npos
                                : local_part.find_first_of(rules.recipient_delimiter);
  const bool has_detail = split != std::string_view::npos && split > 0;
  const std::string_view base = has_detail ? local_part.substr(0, split) : local_part;
  std::optional<std::string> folder;
  if (has_detail && split + 1 < local_part.size()) {
    folder = std::string(local_part.substr(split + 1));
  }

  if (auto r = mapped(find_full(table, local_part, domain))) return r;
  if (has_detail) {
    if (auto r = mapped(find_full(table, base, domain), folder)) return r;
  }
  if (auto r = mapped(find_local(table, rules, local_part, domain))) return r;
  if (has_detail) {
    if (auto r = mapped(find_local(table, rules, base, domain), folder)) return r;
  }
  return std::nullopt;
}

protocols::lmtp::recipient_resolver lmtp_recipient_resolver(std::shared_ptr<user_db> users) {
  return [users = std::move(users)](std::string_view local_part,
                                    std::string_view domain) -> protocols::lmtp::recipient_lookup {
    auto found = users->resolve_recipient(local_part, domain);
    if (!found) return protocols::lmtp::unknown_recipient{};
    return protocols::lmtp::recipient{std::move(found->user), std::move(found->folder)};
  };
}

}  // namespace packmail::server
