#include "users/passwd_file.h"

#include <charconv>

namespace packmail::server {
namespace {

constexpr std::size_t k_max_user_name = 255;

std::optional<std::uint32_t> parse_id(std::string_view s, bool& ok) {
  ok = true;
  if (s.empty()) return std::nullopt;
  std::uint32_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) ok = false;
  return v;
}

}  // namespace

std::string fold_user_name(std::string_view user) {
  std::string out(user);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string check_user_name(std::string_view user) {
  if (user.empty()) return "empty user name";
  if (user.size() > k_max_user_name) return "user name longer than 255 bytes";
  if (user.front() == '#') return "user name starts with '#'";
  for (char c : user) {
    const auto u = static_cast<unsigned char>(c);
    if (c == ':') return "user name contains ':'";
    if (u <= 0x20 || u == 0x7f) return "user name contains whitespace or a control character";
  }
  return {};
}

const passwd_entry* passwd_table::find(std::string_view user) const {
  const auto it = by_name_.find(fold_user_name(user));
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

passwd_parse_result parse_passwd_file(std::string_view text) {
  passwd_parse_result result;
  std::size_t line_no = 0;
  auto fail = [&](std::string message) {
    result.errors.push_back({line_no, "line " + std::to_string(line_no) + ": " + message});
  };
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (line.find('\0') != std::string_view::npos) {
      fail("contains a NUL byte");
      continue;
    }

    // Split into at most 8 columns; the last keeps any further ':'.
    std::vector<std::string_view> cols;
    std::string_view rest = line;
    while (cols.size() < 7) {
      const auto colon = rest.find(':');
      if (colon == std::string_view::npos) break;
      cols.push_back(rest.substr(0, colon));
      rest = rest.substr(colon + 1);
    }
    cols.push_back(rest);

    if (cols.size() < 2) {
      fail("expected user:{SCHEME}password, found no ':'");
      continue;
    }
    passwd_entry entry;
    entry.line = line_no;
    entry.user = std::string(cols[0]);
    if (auto why = check_user_name(entry.user); !why.empty()) {
      fail(why);
      continue;
    }
    auto parsed = parse_stored_password(cols[1]);
    if (!parsed.value) {
      fail(parsed.error + " for user " + entry.user);
      continue;
    }
    entry.password = std::move(*parsed.value);
    bool uid_ok = true, gid_ok = true;
    if (cols.size() > 2) entry.uid = parse_id(cols[2], uid_ok);
    if (cols.size() > 3) entry.gid = parse_id(cols[3], gid_ok);
    if (!uid_ok) {
      fail("uid '" + std::string(cols[2]) + "' is not a number");
      continue;
    }
    if (!gid_ok) {
      fail("gid '" + std::string(cols[3]) + "' is not a number");
      continue;
    }
    if (cols.size() > 4) entry.gecos = std::string(cols[4]);
    if (cols.size() > 5) entry.home = std::string(cols[5]);
    if (cols.size() > 6) entry.shell = std::string(cols[6]);
    if (cols.size() > 7) entry.extra_fields = std::string(cols[7]);

    auto key = fold_user_name(entry.user);
    if (const auto it = result.table.by_name_.find(key); it != result.table.by_name_.end()) {
      fail("duplicate user " + entry.user + " (first on line " +
           std::to_string(result.table.entries_[it->second].line) + ")");
      continue;
    }
    result.table.by_name_.emplace(std::move(key), result.table.entries_.size());
    result.table.entries_.push_back(std::move(entry));
  }
  return result;
}

}  // namespace packmail::server
