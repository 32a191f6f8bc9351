// SEARCH and UID SEARCH (RFC 3501 6.4.4) over the stored message metadata and
// the headers and text decoded at delivery. String keys match as
// case-insensitive substrings.
#include <algorithm>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include "../session_context.h"
#include "packmail/protocols/imap/search_keys.h"

namespace packmail::protocols::imap {
namespace {

bool contains_text(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return true;
  return to_lower_ascii(haystack).find(to_lower_ascii(needle)) != std::string::npos;
}

// Days since the epoch of the calendar day of a moment seen in its own zone.
std::int64_t local_day(std::int64_t unix_seconds, std::int16_t tz_offset_minutes) {
  const std::int64_t local = unix_seconds + tz_offset_minutes * 60;
  return local >= 0 ? local / 86400 : (local - 86399) / 86400;
}

// The date of an RFC 5322 Date: value ("Tue, 1 Jul 2003 10:52:37 +0200"),
// time and zone disregarded (RFC 3501 6.4.4 SENTON).
std::optional<std::int64_t> header_day(std::string_view value) {
  static constexpr std::string_view k_months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                  "jul", "aug", "sep", "oct", "nov", "dec"};
  std::size_t i = value.find_first_of("0123456789");
  if (i == std::string_view::npos) return std::nullopt;
  unsigned day = 0;
  while (i < value.size() && value[i] >= '0' && value[i] <= '9' && day < 100) {
    day = day * 10 + static_cast<unsigned>(value[i++] - '0');
  }
  while (i < value.size() && (value[i] == ' ' || value[i] == '-')) ++i;
  if (i + 3 > value.size()) return std::nullopt;
  const std::string month_name = to_lower_ascii(value.substr(i, 3));
  unsigned month = 0;
  for (unsigned m = 0; m < 12; ++m) {
    if (k_months[m] == month_name) month = m + 1;
  }
  if (!month) return std::nullopt;
  i += 3;
  while (i < value.size() && (value[i] == ' ' || value[i] == '-')) ++i;
  int year = 0, digits = 0;
  while (i < value.size() && value[i] >= '0' && value[i] <= '9' && digits < 4) {
    year = year * 10 + (value[i++] - '0');
    ++digits;
  }
  if (digits == 2) year += year < 50 ? 2000 : 1900;  // RFC 5322 4.3
  if (digits < 2 || day == 0 || day > 31) return std::nullopt;
  imap::date d;
  d.year = year;
  d.month = month;
  d.day = day;
  return d.days_since_epoch();
}

bool uses_unsupported(const search_key& key) {
  if (key.what == search_key::kind::modseq) return true;
  return std::any_of(key.children.begin(), key.children.end(), uses_unsupported);
}

class matcher {
 public:
  matcher(session_context& ctx, mailbox_view& view) : ctx_(ctx), view_(view) {}

  // Resolves the sets of `key`'s UID and sequence-set keys once, before
  // matching: the BAD text when one names "$".
  std::optional<std::string> resolve_sets(const search_key& key) {
    using k = search_key::kind;
    if (key.what == k::uid || key.what == k::sequence_numbers) {
      if (key.set.uses_saved_result()) return std::string(k_no_saved_result);
      sets_[&key] = key.set.resolve(key.what == k::uid ? view_.max_uid() : view_.exists());
    }
    for (const search_key& child : key.children) {
      if (auto refused = resolve_sets(child)) return refused;
    }
    return std::nullopt;
  }

  // Precondition: resolve_sets(key) (of the whole key). The structure error,
  // if any, is checked by the caller via error().
  bool match(const search_key& key, std::uint32_t seq, const storage::message_info& m) {
    using k = search_key::kind;
    switch (key.what) {
      case k::all_of:
        return std::all_of(key.children.begin(), key.children.end(),
                           [&](const search_key& c) { return match(c, seq, m); });
      case k::all:
        return true;
      case k::answered:
        return m.flags & storage::flag_answered;
      case k::deleted:
        return m.flags & storage::flag_deleted;
      case k::draft:
        return m.flags & storage::flag_draft;
      case k::flagged:
        return m.flags & storage::flag_flagged;
      case k::seen:
        return m.flags & storage::flag_seen;
      case k::unanswered:
        return !(m.flags & storage::flag_answered);
      case k::undeleted:
        return !(m.flags & storage::flag_deleted);
      case k::undraft:
        return !(m.flags & storage::flag_draft);
      case k::unflagged:
        return !(m.flags & storage::flag_flagged);
      case k::unseen:
        return !(m.flags & storage::flag_seen);
      case k::keyword:
      case k::unkeyword: {
        const bool has = std::any_of(m.keywords.begin(), m.keywords.end(),
                                     [&](const auto& w) { return iequals_ascii(w, key.text); });
        return key.what == k::keyword ? has : !has;
      }
      case k::new_messages:  // RFC 3501 6.4.4: RECENT UNSEEN
        return view_.at(seq).recent && !(m.flags & storage::flag_seen);
      case k::recent:
        return view_.at(seq).recent;
      case k::old:
        return !view_.at(seq).recent;
      case k::bcc:
        return header_contains("Bcc", key.text, m);
      case k::cc:
        return header_contains("Cc", key.text, m);
      case k::from:
        return header_contains("From", key.text, m);
      case k::to:
        return header_contains("To", key.text, m);
      case k::subject:
        return header_contains("Subject", key.text, m);
      case k::header:
        return header_contains(key.text, key.value, m);
      case k::body: {
        auto* s = structure(m);
        return s && contains_text(s->text, key.text);
      }
      case k::text: {
        auto* s = structure(m);
        if (!s) return false;
        for (const auto& [name, value] : s->headers) {
          if (contains_text(name + ": " + value, key.text)) return true;
        }
        return contains_text(s->text, key.text);
      }
      case k::before:
        return local_day(m.internal_date, m.tz_offset) < key.date.days_since_epoch();
      case k::on:
        return local_day(m.internal_date, m.tz_offset) == key.date.days_since_epoch();
      case k::since:
        return local_day(m.internal_date, m.tz_offset) >= key.date.days_since_epoch();
      case k::sent_before:
      case k::sent_on:
      case k::sent_since: {
        const std::int64_t day = sent_day(m);
        const std::int64_t wanted = key.date.days_since_epoch();
        return key.what == k::sent_before ? day < wanted
               : key.what == k::sent_on   ? day == wanted
                                          : day >= wanted;
      }
      case k::larger:
        return m.size > key.number;
      case k::smaller:
        return m.size < key.number;
      case k::uid:
        return contains(sets_.at(&key), m.uid);
      case k::sequence_numbers:
        return contains(sets_.at(&key), seq);
      case k::not_:
        return !match(key.children.front(), seq, m);
      case k::or_:
        return match(key.children[0], seq, m) || match(key.children[1], seq, m);
      case k::modseq:
        return false;  // refused before matching
    }
    return false;
  }

  const storage::status& error() const { return error_; }

 private:
  const storage::mime::message_structure* structure(const storage::message_info& m) {
    if (loaded_uid_ != m.uid) {
      loaded_uid_ = m.uid;
      structure_.reset();
      auto s = ctx_.store().read_structure(view_.id(), m.uid);
      if (s) {
        structure_ = std::move(s).value();
      } else if (s.code() != storage::errc::expunged && s.code() != storage::errc::not_found) {
        error_ = s.error();
      }
    }
    return structure_ ? &*structure_ : nullptr;
  }

  bool header_contains(std::string_view field, std::string_view needle,
                       const storage::message_info& m) {
    auto* s = structure(m);
    if (!s) return false;
    for (const auto& [name, value] : s->headers) {
      if (iequals_ascii(name, field) && contains_text(value, needle)) return true;
    }
    return false;
  }

  // RFC 9051 6.4.4.1: without a usable Date: header, the internal date.
  std::int64_t sent_day(const storage::message_info& m) {
    if (auto* s = structure(m)) {
      for (const auto& [name, value] : s->headers) {
        if (!iequals_ascii(name, "Date")) continue;
        if (auto day = header_day(value)) return *day;
        break;
      }
    }
    return local_day(m.internal_date, m.tz_offset);
  }

  session_context& ctx_;
  mailbox_view& view_;
  std::map<const search_key*, std::vector<sequence_range>> sets_;  // by resolve_sets()
  storage::imap_uid loaded_uid_ = 0;
  std::optional<storage::mime::message_structure> structure_;
  storage::status error_;
};

}  // namespace

std::optional<reply> handle_search(session_context& ctx, command& cmd) {
  auto request = parse_search(cmd.args);
  if (!request) return bad(request.error().message);
  search_request& r = request.value();
  if (r.has_return) return bad("ESEARCH is not supported");
  if (uses_unsupported(r.key)) return bad("CONDSTORE is not supported");
  mailbox_view& view = *ctx.view();
  matcher m(ctx, view);
  if (auto refused = m.resolve_sets(r.key)) return bad(*refused);
  if (r.charset && !iequals_ascii(*r.charset, "UTF-8") && !iequals_ascii(*r.charset, "US-ASCII")) {
    return no("[BADCHARSET (US-ASCII UTF-8)] Unsupported charset");
  }
  auto messages = ctx.store().list_messages(view.id());
  if (!messages) return storage_failure(messages.error());

  std::string line = "* SEARCH";
  for (const storage::message_info& info : *messages) {
    const std::uint32_t seq = view.seq_of(info.uid);
    if (seq == 0 || view.at(seq).expunged) continue;  // not yet announced
    if (!m.match(r.key, seq, info)) continue;
    if (!m.error().ok()) break;
    line += ' ';
    line += std::to_string(cmd.uid ? info.uid : seq);
  }
  if (!m.error().ok()) return storage_failure(m.error());
  ctx.out += line + "\r\n";
  return ok(cmd.uid ? "UID SEARCH completed" : "SEARCH completed");
}

}  // namespace packmail::protocols::imap
