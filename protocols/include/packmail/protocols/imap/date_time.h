// IMAP dates: SEARCH's date ("1-Feb-1994", optionally quoted) and APPEND's
// date-time ("17-Jul-1996 02:44:25 -0700", always quoted).
#pragma once

#include <cstdint>
#include <string_view>

#include "packmail/protocols/imap/syntax.h"

namespace packmail::protocols::imap {

struct date {
  int year = 0;        // 4 digits
  unsigned month = 0;  // 1..12
  unsigned day = 0;    // 1..days in month
  friend bool operator==(const date&, const date&) = default;
  // Days since 1970-01-01 (proleptic Gregorian).
  std::int64_t days_since_epoch() const;
};

struct date_time {
  imap::date date;
  unsigned hour = 0, minute = 0, second = 0;
  int zone_minutes = 0;  // offset east of UTC: "-0700" is -420
  friend bool operator==(const date_time&, const date_time&) = default;
  // Seconds since the Unix epoch, in UTC.
  std::int64_t to_unix_seconds() const;
};

// RFC 3501 9: date-text = date-day "-" date-month "-" date-year,
// date-day = 1*2DIGIT, date-month = "Jan" / ... (any case). The caller has
// already removed the quotes of a quoted date (the token's text).
syntax_result<date> parse_date(std::string_view text);

// RFC 3501 9: date-time = DQUOTE date-day-fixed "-" date-month "-" date-year
//   SP time SP zone DQUOTE; date-day-fixed = (SP DIGIT) / 2DIGIT. `text` is
// the quoted string's contents. Leading-zero days ("01-...") and a single
// digit day are accepted too, as many clients send them.
syntax_result<date_time> parse_date_time(std::string_view text);

}  // namespace packmail::protocols::imap
