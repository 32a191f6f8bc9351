// SEARCH arguments (RFC 3501 6.4.4 / RFC 9051 6.4.4): every RFC 3501 search
// key with OR / NOT / parenthesized groups, sequence sets (with "$", RFC
// 5182), CHARSET, ESEARCH's RETURN options (RFC 4731) and MODSEQ (RFC 7162).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "packmail/protocols/imap/date_time.h"
#include "packmail/protocols/imap/sequence_set.h"
#include "packmail/protocols/imap/syntax.h"

namespace packmail::protocols::imap {

struct search_key {
  enum class kind {
    all_of,  // a parenthesized group, and the top level: every child matches
    all,
    answered,
    bcc,
    before,
    body,
    cc,
    deleted,
    draft,
    flagged,
    from,
    header,
    keyword,
    larger,
    new_messages,
    not_,
    old,
    on,
    or_,
    recent,
    seen,
    sent_before,
    sent_on,
    sent_since,
    since,
    smaller,
    subject,
    text,
    to,
    uid,
    unanswered,
    undeleted,
    undraft,
    unflagged,
    unkeyword,
    unseen,
    sequence_numbers,  // a bare sequence set
    modseq,            // RFC 7162 MODSEQ
  };
  kind what = kind::all;
  // The string argument (BCC, BODY, CC, FROM, SUBJECT, TEXT, TO), the header
  // field name (HEADER), the flag (KEYWORD, UNKEYWORD), or MODSEQ's entry name.
  std::string text;
  // HEADER's string to find; MODSEQ's entry type ("PRIV", "SHARED", "ALL").
  std::string value;
  std::uint64_t number = 0;          // LARGER, SMALLER (octets), MODSEQ (mod-sequence-valzer)
  imap::date date;                   // BEFORE, ON, SINCE, SENTBEFORE, SENTON, SENTSINCE
  sequence_set set;                  // UID, sequence_numbers
  std::vector<search_key> children;  // all_of (1 or more), not_ (1), or_ (2)
};

struct search_request {
  // RFC 4731: RETURN (...) options, upper-cased (MIN, MAX, ALL, COUNT, SAVE).
  // has_return with no options means RETURN (), i.e. ALL in an ESEARCH reply.
  bool has_return = false;
  std::vector<std::string> return_options;
  std::optional<std::string> charset;  // as sent; the caller answers NO [BADCHARSET]
  search_key key;                      // kind all_of: the top-level keys
};

// Deepest nesting of NOT / OR / parentheses accepted. Default: 64.
inline constexpr std::size_t k_max_search_depth = 64;

// The arguments of SEARCH / UID SEARCH.
syntax_result<search_request> parse_search(std::span<const token> args);

}  // namespace packmail::protocols::imap
