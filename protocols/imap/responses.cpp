#include "responses.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "packmail/protocols/imap/mailbox_name.h"
#include "packmail/protocols/imap/syntax.h"

namespace packmail::protocols::imap {

reply storage_failure(storage::errc code) {
  using storage::errc;
  switch (code) {
    case errc::ok:
      return ok("Completed");
    case errc::not_found:
      return no("[NONEXISTENT] No such mailbox or message");
    case errc::exists:
      return no("[ALREADYEXISTS] Mailbox already exists");
    case errc::try_create:
      return no("[TRYCREATE] No such mailbox");
    case errc::over_quota:
      return no("[OVERQUOTA] Quota exceeded");
    case errc::in_use:
      return no("[INUSE] Mailbox is in use");
    case errc::expunged:
      return no("[EXPUNGEISSUED] Message was expunged");
    case errc::corrupt:
      return no("[CORRUPTION] Stored data failed verification");
    case errc::temporary:
      return no("[UNAVAILABLE] Temporary failure, try again later");
    case errc::internal:
      return no("[SERVERBUG] Internal error");
    case errc::invalid_argument:
      return no("[CANNOT] Operation not permitted");
  }
  return no("[SERVERBUG] Internal error");
}

void append_tagged(std::string& out, std::string_view tag, const reply& r) {
  out += tag;
  switch (r.what) {
    case reply::kind::ok:
      out += " OK ";
      break;
    case reply::kind::no:
      out += " NO ";
      break;
    case reply::kind::bad:
      out += " BAD ";
      break;
  }
  out += r.text;
  out += "\r\n";
}

std::string string_value(std::string_view text) {
  bool quotable = text.size() <= 1024;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0 || u == '\r' || u == '\n' || u >= 0x80) {
      quotable = false;
      break;
    }
  }
  if (!quotable) return literal_value(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string literal_value(std::string_view bytes) {
  std::string out = "{" + std::to_string(bytes.size()) + "}\r\n";
  out += bytes;
  return out;
}

std::string mailbox_value(std::string_view utf8_name) {
  auto encoded = utf8_to_mutf7(utf8_name);
  // Store names are valid UTF-8; fall back to the raw bytes as a literal.
  return string_value(encoded ? std::string_view(encoded.value()) : utf8_name);
}

std::string flag_list(std::uint8_t flags, std::span<const std::string> keywords, bool recent) {
  std::string out = "(";
  auto add = [&out](std::string_view f) {
    if (out.size() > 1) out += ' ';
    out += f;
  };
  if (flags & storage::flag_answered) add("\\Answered");
  if (flags & storage::flag_flagged) add("\\Flagged");
  if (flags & storage::flag_deleted) add("\\Deleted");
  if (flags & storage::flag_seen) add("\\Seen");
  if (flags & storage::flag_draft) add("\\Draft");
  if (recent) add("\\Recent");
  for (const std::string& k : keywords) add(k);
  out += ')';
  return out;
}

std::string internal_date(std::int64_t unix_seconds, std::int16_t tz_offset_minutes) {
  static constexpr const char* k_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t local = static_cast<std::time_t>(unix_seconds + tz_offset_minutes * 60);
  std::tm tm{};
  gmtime_r(&local, &tm);
  const int zone = tz_offset_minutes < 0 ? -tz_offset_minutes : tz_offset_minutes;
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%2d-%s-%04d %02d:%02d:%02d %c%02d%02d", tm.tm_mday,
                k_months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
                tz_offset_minutes < 0 ? '-' : '+', zone / 60, zone % 60);
  return buffer;
}

std::string uid_set(std::vector<std::uint32_t> numbers) {
  std::sort(numbers.begin(), numbers.end());
  std::string out;
  for (std::size_t i = 0; i < numbers.size();) {
    std::size_t j = i;
    while (j + 1 < numbers.size() && numbers[j + 1] <= numbers[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(numbers[i]);
    if (numbers[j] != numbers[i]) out += ':' + std::to_string(numbers[j]);
    i = j + 1;
  }
  return out;
}

std::uint8_t system_flag_bit(std::string_view flag) {
  if (iequals_ascii(flag, "\\Seen")) return storage::flag_seen;
  if (iequals_ascii(flag, "\\Answered")) return storage::flag_answered;
  if (iequals_ascii(flag, "\\Flagged")) return storage::flag_flagged;
  if (iequals_ascii(flag, "\\Deleted")) return storage::flag_deleted;
  if (iequals_ascii(flag, "\\Draft")) return storage::flag_draft;
  return 0;
}

const std::string* sort_flags(std::span<const std::string> flags, bool skip_recent,
                              std::uint8_t& bits, std::vector<std::string>& keywords) {
  for (const std::string& flag : flags) {
    if (const std::uint8_t bit = system_flag_bit(flag)) {
      bits |= bit;
    } else if (!flag.empty() && flag[0] == '\\') {
      if (!skip_recent || !iequals_ascii(flag, "\\Recent")) return &flag;
    } else {
      keywords.push_back(flag);
    }
  }
  return nullptr;
}

}  // namespace packmail::protocols::imap
