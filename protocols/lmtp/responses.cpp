#include "responses.h"

#include <cstdio>
#include <ctime>

namespace packmail::protocols::lmtp {

void append_reply(std::string& out, const reply& r) {
  const std::string code = std::to_string(r.code);
  for (std::size_t i = 0; i < r.lines.size(); ++i) {
    out += code;
    out += i + 1 == r.lines.size() ? ' ' : '-';
    if (!r.status.empty()) {
      out += r.status;
      out += ' ';
    }
    out += r.lines[i];
    out += "\r\n";
  }
}

reply delivery_failure(storage::errc code) {
  using storage::errc;
  switch (code) {
    case errc::over_quota:
      // RFC 3463 X.2.2: mailbox full.
      return make_reply(552, "5.2.2", "Mailbox is full");
    case errc::temporary:
      return make_reply(451, "4.3.0", "Temporary failure, try again later");
    // The rest cannot be the MTA's fault: keep the message queued (a
    // deleted target mailbox, a store bug, a corrupt record, a busy user)
    // and let the administrator look, rather than bounce it.
    case errc::ok:
    case errc::not_found:
    case errc::exists:
    case errc::try_create:
    case errc::in_use:
    case errc::expunged:
    case errc::corrupt:
    case errc::internal:
    case errc::invalid_argument:
      break;
  }
  return make_reply(451, "4.3.0", "Local error in processing, try again later");
}

std::string rfc5322_date(std::int64_t unix_seconds) {
  static constexpr const char* k_days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* k_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s, %d %s %04d %02d:%02d:%02d +0000", k_days[tm.tm_wday],
                tm.tm_mday, k_months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buffer;
}

}  // namespace packmail::protocols::lmtp
