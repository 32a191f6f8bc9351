#include "mailbox_rules.h"

#include <algorithm>
#include <ctime>
#include <limits>
#include <set>
#include <utility>

namespace packmail::storage::detail {

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ascii_lower(a) == ascii_lower(b);
}

std::string canonical_name(std::string_view name) {
  const std::string_view first = name.substr(0, name.find('/'));
  if (!iequals(first, k_inbox)) return std::string(name);
  std::string out(k_inbox);
  out += name.substr(first.size());
  return out;
}

bool valid_name(std::string_view name) {
  return !name.empty() && name.front() != '/' && name.back() != '/' &&
         name.find("//") == std::string_view::npos;
}

status check_rename(std::string_view from, std::string_view to) {
  if (from == to) return {errc::exists, "mailbox \"" + std::string(to) + "\" exists"};
  if (to.size() > from.size() && to.starts_with(from) && to[from.size()] == '/') {
    return {errc::invalid_argument, "cannot rename a mailbox into its own child"};
  }
  return {};
}

std::uint32_t next_uidvalidity(std::uint32_t last_uidvalidity) {
  const auto now = static_cast<std::uint32_t>(std::time(nullptr));
  return std::max(now, last_uidvalidity + 1);
}

bool uids_available(imap_uid uidnext, std::uint64_t count) {
  return uidnext != 0 && std::uint64_t{uidnext} + count <= std::numeric_limits<imap_uid>::max();
}

status uid_space_exhausted(std::string_view mailbox) {
  return {errc::over_quota, "mailbox \"" + std::string(mailbox) + "\": UID space exhausted"};
}

std::vector<imap_uid> sorted_unique(std::span<const imap_uid> uids) {
  std::vector<imap_uid> out(uids.begin(), uids.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::string> normalize_keywords(std::vector<std::string> keywords) {
  std::vector<std::pair<std::string, std::string>> folded;  // (lower case, as given)
  folded.reserve(keywords.size());
  for (std::string& k : keywords) {
    if (!k.empty()) folded.emplace_back(ascii_lower(k), std::move(k));
  }
  // Stable, so that of several spellings the first given stays first.
  auto by_folded = [](const auto& a, const auto& b) { return a.first < b.first; };
  std::stable_sort(folded.begin(), folded.end(), by_folded);
  folded.erase(std::unique(folded.begin(), folded.end(),
                           [](const auto& a, const auto& b) { return a.first == b.first; }),
               folded.end());
  std::vector<std::string> out;
  out.reserve(folded.size());
  for (auto& [lower, k] : folded) out.push_back(std::move(k));
  std::sort(out.begin(), out.end());
  return out;
}

flag_state apply_flag_change(std::uint8_t current_flags,
                             const std::vector<std::string>& current_keywords, flag_op op,
                             std::uint8_t flags, const std::vector<std::string>& keywords) {
  flag_state out;
  switch (op) {
    case flag_op::add:
      out.flags = current_flags | flags;
      // The message's own spellings come first, so they win.
      out.keywords = current_keywords;
      out.keywords.insert(out.keywords.end(), keywords.begin(), keywords.end());
      out.keywords = normalize_keywords(std::move(out.keywords));
      break;
    case flag_op::remove: {
      out.flags = current_flags & static_cast<std::uint8_t>(~flags);
      std::set<std::string> removed;
      for (const std::string& k : keywords) removed.insert(ascii_lower(k));
      for (const std::string& k : current_keywords) {
        if (!removed.contains(ascii_lower(k))) out.keywords.push_back(k);
      }
      out.keywords = normalize_keywords(std::move(out.keywords));
      break;
    }
    case flag_op::replace:
      out.flags = flags;
      out.keywords = keywords;
      break;
  }
  return out;
}

std::string slice_message(std::string_view prefix, std::string_view body, std::uint64_t offset,
                          std::uint64_t length) {
  const std::uint64_t total = prefix.size() + body.size();
  if (offset >= total) return {};
  const std::uint64_t end = offset + std::min(length, total - offset);
  std::string out;
  out.reserve(end - offset);
  if (offset < prefix.size()) {
    out.append(prefix.substr(offset, std::min<std::uint64_t>(end, prefix.size()) - offset));
  }
  if (end > prefix.size()) {
    const std::uint64_t from = std::max<std::uint64_t>(offset, prefix.size()) - prefix.size();
    out.append(body.substr(from, end - prefix.size() - from));
  }
  return out;
}

}  // namespace packmail::storage::detail
