#include "packmail/protocols/imap/date_time.h"

#include <array>

namespace packmail::protocols::imap {

namespace {

constexpr std::array<std::string_view, 12> k_months = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};

bool digits(std::string_view text, std::size_t count, unsigned& out) {
  if (text.size() != count) return false;
  out = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<unsigned>(c - '0');
  }
  return true;
}

unsigned days_in_month(int year, unsigned month) {
  static constexpr unsigned k_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : k_days[month - 1];
}

// "d-Mon-yyyy" with day already split off by the caller's format.
bool parse_date_text(std::string_view text, date& out) {
  const std::size_t dash1 = text.find('-');
  if (dash1 == std::string_view::npos || text.size() != dash1 + 9) return false;
  std::string_view day = text.substr(0, dash1);
  unsigned d = 0;
  if (!digits(day, day.size(), d) || day.empty() || day.size() > 2) return false;
  const std::string_view month = text.substr(dash1 + 1, 3);
  if (text[dash1 + 4] != '-') return false;
  unsigned y = 0;
  if (!digits(text.substr(dash1 + 5), 4, y)) return false;
  unsigned m = 0;
  for (std::size_t i = 0; i < k_months.size(); ++i) {
    if (iequals_ascii(month, k_months[i])) m = static_cast<unsigned>(i + 1);
  }
  if (m == 0 || d == 0 || d > days_in_month(static_cast<int>(y), m)) return false;
  out = date{static_cast<int>(y), m, d};
  return true;
}

}  // namespace

std::int64_t date::days_since_epoch() const {
  // H. Hinnant's days_from_civil.
  const std::int64_t y = static_cast<std::int64_t>(year) - (month <= 2 ? 1 : 0);
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t mp = (static_cast<std::int64_t>(month) + 9) % 12;
  const std::int64_t doy = (153 * mp + 2) / 5 + static_cast<std::int64_t>(day) - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

std::int64_t date_time::to_unix_seconds() const {
  return date.days_since_epoch() * 86400 + hour * 3600 + minute * 60 + second -
         static_cast<std::int64_t>(zone_minutes) * 60;
}

syntax_result<imap::date> parse_date(std::string_view text) {
  imap::date d;
  if (!parse_date_text(text, d)) return make_syntax_error("Invalid date (expected d-Mon-yyyy)");
  return d;
}

syntax_result<date_time> parse_date_time(std::string_view text) {
  auto invalid = [] { return make_syntax_error("Invalid date-time"); };
  if (!text.empty() && text[0] == ' ') text.remove_prefix(1);  // date-day-fixed " 7"
  // "dd-Mon-yyyy hh:mm:ss +zzzz"
  const std::size_t space = text.find(' ');
  if (space == std::string_view::npos) return invalid();
  date_time out;
  if (!parse_date_text(text.substr(0, space), out.date)) return invalid();
  const std::string_view rest = text.substr(space + 1);
  if (rest.size() != 14 || rest[2] != ':' || rest[5] != ':' || rest[8] != ' ') return invalid();
  unsigned zone = 0;
  if (!digits(rest.substr(0, 2), 2, out.hour) || !digits(rest.substr(3, 2), 2, out.minute) ||
      !digits(rest.substr(6, 2), 2, out.second) || (rest[9] != '+' && rest[9] != '-') ||
      !digits(rest.substr(10, 4), 4, zone)) {
    return invalid();
  }
  if (out.hour > 23 || out.minute > 59 || out.second > 60 || zone % 100 > 59) return invalid();
  const int minutes = static_cast<int>(zone / 100 * 60 + zone % 100);
  out.zone_minutes = rest[9] == '-' ? -minutes : minutes;
  return out;
}

}  // namespace packmail::protocols::imap
