#include "common/message_generator.h"

#include <time.h>

#include <array>
#include <cstdio>

namespace packmail::bench {
namespace {

// splitmix64: a tiny, well-mixed generator; one stream per message.
class rng {
 public:
  explicit rng(std::uint64_t state) : state_(state) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n).
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
  template <class T, std::size_t N>
  const T& pick(const std::array<T, N>& items) {
    return items[below(N)];
  }

 private:
  std::uint64_t state_;
};

constexpr auto k_first_names = std::to_array<std::string_view>(
    {"Alice", "Bob",    "Carol", "David", "Erin",    "Frank",  "Grace", "Heidi",
     "Ivan",  "Judy",   "Karl",  "Laura", "Mallory", "Nina",   "Oscar", "Peggy",
     "Quinn", "Rupert", "Sybil", "Trent", "Ursula",  "Victor", "Wendy", "Xavier"});
constexpr auto k_last_names = std::to_array<std::string_view>(
    {"Smith", "Jones", "Garcia", "Miller", "Davis", "Martin", "Lopez", "Wilson", "Moore", "Taylor",
     "Thomas", "Becker", "Dubois", "Rossi", "Novak", "Larsen"});
constexpr auto k_domains = std::to_array<std::string_view>(
    {"example.org", "example.net", "mail.example.com", "corp.example", "lists.example",
     "shop.example", "uni.example.edu", "bank.example", "news.example", "family.example"});
constexpr auto k_subject_prefixes =
    std::to_array<std::string_view>({"", "", "", "Re: ", "Fwd: ", "Re: Re: "});
constexpr auto k_subjects = std::to_array<std::string_view>({"quarterly budget review",
                                                             "lunch on Thursday?",
                                                             "your invoice",
                                                             "meeting notes",
                                                             "photos from the weekend",
                                                             "password reset request",
                                                             "shipping confirmation",
                                                             "draft for the proposal",
                                                             "server maintenance tonight",
                                                             "question about the report",
                                                             "weekly newsletter",
                                                             "holiday plans",
                                                             "contract renewal",
                                                             "updated schedule",
                                                             "team offsite agenda",
                                                             "bug in the login page",
                                                             "your order has shipped",
                                                             "reminder: dentist",
                                                             "minutes of the board",
                                                             "new office keys",
                                                             "travel expenses",
                                                             "welcome aboard",
                                                             "follow-up on our call",
                                                             "flat viewing on Monday"});
constexpr auto k_words = std::to_array<std::string_view>(
    {"the",      "a",        "we",        "you",     "it",      "is",       "was",      "will",
     "can",      "should",   "please",    "thanks",  "for",     "and",      "but",      "with",
     "about",    "before",   "after",     "next",    "last",    "week",     "month",    "today",
     "tomorrow", "meeting",  "report",    "budget",  "project", "customer", "server",   "invoice",
     "order",    "schedule", "team",      "office",  "numbers", "figures",  "draft",    "version",
     "changes",  "review",   "send",      "check",   "agree",   "think",    "know",     "need",
     "want",     "attached", "below",     "above",   "again",   "soon",     "later",    "quickly",
     "finally",  "probably", "certainly", "maybe",   "already", "still",    "also",     "only",
     "new",      "old",      "small",     "large",   "good",    "better",   "final",    "open",
     "closed",   "pending",  "delivery",  "address", "account", "payment",  "question", "answer",
     "problem",  "solution", "details",   "plan",    "call",    "email",    "phone",    "monday",
     "friday",   "morning",  "afternoon", "evening", "lunch",   "coffee",   "room",     "floor",
     "building"});
constexpr auto k_greetings = std::to_array<std::string_view>(
    {"Hi", "Hello", "Dear", "Hey", "Good morning", "Hi there", "Hello", "Dear"});
constexpr auto k_closings = std::to_array<std::string_view>(
    {"Best regards", "Thanks", "Cheers", "Kind regards", "See you", "Best"});
constexpr auto k_mtas = std::to_array<std::string_view>(
    {"Postfix", "Postfix", "Exim 4.96", "Microsoft SMTP Server", "Postfix", "OpenSMTPD"});

constexpr std::string_view k_crlf = "\r\n";
// 2026-01-01T00:00:00Z: dates are fixed so that runs are reproducible.
constexpr std::int64_t k_base_time = 1767225600;
constexpr std::size_t k_line_width = 72;

std::string queue_id(rng& r, std::size_t length) {
  constexpr std::string_view alphabet = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";
  std::string id;
  id.reserve(length);
  for (std::size_t i = 0; i < length; ++i) id += alphabet[r.below(alphabet.size())];
  return id;
}

// RFC 5322 3.3 date-time, e.g. "Thu, 01 Jan 2026 00:00:00 +0000".
std::string rfc5322_date(std::int64_t seconds) {
  const time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  const std::size_t n = strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return std::string(buf, n);
}

std::string ipv4(rng& r, std::string_view net) {
  return std::string(net) + std::to_string(1 + r.below(254));
}

void append_received(std::string& out, rng& r, std::string_view from_host, std::string_view from_ip,
                     std::string_view by_host, std::string_view recipient, std::int64_t when) {
  out += "Received: from ";
  out += from_host;
  out += " (";
  out += from_host;
  out += " [";
  out += from_ip;
  out += "])";
  out += k_crlf;
  out += "\tby ";
  out += by_host;
  out += " (";
  out += r.pick(k_mtas);
  out += ") with ESMTPS id ";
  out += queue_id(r, 12);
  out += k_crlf;
  out += "\tfor <";
  out += recipient;
  out += ">; ";
  out += rfc5322_date(when);
  out += k_crlf;
}

std::string sentence(rng& r) {
  const std::size_t words = 5 + r.below(10);
  std::string s;
  for (std::size_t i = 0; i < words; ++i) {
    std::string_view w = r.pick(k_words);
    if (i == 0) {
      s += static_cast<char>(w[0] >= 'a' && w[0] <= 'z' ? w[0] - 'a' + 'A' : w[0]);
      s += w.substr(1);
    } else {
      s += ' ';
      s += w;
    }
  }
  s += r.below(6) == 0 ? '?' : '.';
  return s;
}

}  // namespace

message_generator::message_generator(std::uint64_t seed, std::size_t mean_size)
    : seed_(seed), mean_size_(mean_size) {}

std::string message_generator::message(std::uint64_t index, std::string_view recipient) const {
  rng r(seed_ * 0x2545f4914f6cdd1dull + index);
  const std::size_t low = mean_size_ * 3 / 4;
  const std::size_t target = low + r.below(mean_size_ / 2 + 1);

  const std::string_view first = r.pick(k_first_names);
  const std::string_view last = r.pick(k_last_names);
  const std::string_view domain = r.pick(k_domains);
  std::string sender;
  for (char c : first) sender += static_cast<char>(c | 0x20);
  sender += '.';
  for (char c : last) sender += static_cast<char>(c | 0x20);
  sender += '@';
  sender += domain;
  const std::size_t at = recipient.find('@');
  const std::string_view rcpt_domain =
      at == std::string_view::npos ? std::string_view("example.com") : recipient.substr(at + 1);
  const std::string_view rcpt_local = recipient.substr(0, at);

  // Messages arrive about every 13 s on average, in index order.
  const std::int64_t sent =
      k_base_time + static_cast<std::int64_t>(index) * 13 + static_cast<std::int64_t>(r.below(13));
  const std::string mx = "mx" + std::to_string(1 + r.below(4)) + "." + std::string(domain);
  const std::string local_mx = "mail." + std::string(rcpt_domain);

  std::string m;
  m.reserve(target + 256);
  m += "Return-Path: <" + sender + ">\r\n";
  m += "Delivered-To: ";
  m += recipient;
  m += k_crlf;
  append_received(m, r, mx, ipv4(r, "203.0.113."), local_mx, recipient, sent + 2);
  if (r.below(4) == 0) {
    append_received(m, r, "[192.168.1." + std::to_string(2 + r.below(200)) + "]",
                    ipv4(r, "198.51.100."), mx, recipient, sent + 1);
  }
  m += "From: " + std::string(first) + " " + std::string(last) + " <" + sender + ">\r\n";
  m += "To: ";
  m += recipient;
  m += k_crlf;
  m += "Subject: " + std::string(r.pick(k_subject_prefixes)) + std::string(r.pick(k_subjects)) +
       "\r\n";
  m += "Date: " + rfc5322_date(sent) + "\r\n";
  m += "Message-ID: <" + std::to_string(sent) + "." + queue_id(r, 16) + "@" + std::string(domain) +
       ">\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: text/plain; charset=utf-8\r\n";
  m += "Content-Transfer-Encoding: 7bit\r\n";
  m += k_crlf;

  // Body: greeting, wrapped sentences with occasional paragraph breaks,
  // closing, signature; at least the greeting and one line of text.
  std::string closing =
      std::string(k_crlf) + std::string(r.pick(k_closings)) + ",\r\n" + std::string(first) + "\r\n";
  if (r.below(3) == 0) {
    closing += "\r\n-- \r\n" + std::string(first) + " " + std::string(last) + " | " +
               std::string(domain) + "\r\n";
  }
  m += std::string(r.pick(k_greetings)) + " " + std::string(rcpt_local) + ",\r\n\r\n";
  // Words are wrapped at k_line_width; the text stops at the word that would
  // overflow the target.
  std::string line;
  std::size_t body_lines = 0;
  bool end_paragraph = false;
  // Bytes left for the current line: after it come perhaps a '.', its CRLF
  // and the closing.
  const auto room = [&] {
    const std::size_t used = m.size() + 1 + k_crlf.size() + closing.size();
    return used < target ? target - used : 0;
  };
  bool done = false;
  while (!done) {
    const std::string s = sentence(r);
    std::size_t pos = 0;
    while (pos < s.size()) {
      std::size_t space = s.find(' ', pos);
      if (space == std::string::npos) space = s.size();
      const std::string_view word(s.data() + pos, space - pos);
      pos = space + 1;
      std::size_t grown = line.empty() ? word.size() : line.size() + 1 + word.size();
      if (grown > k_line_width || (end_paragraph && !line.empty())) {
        m += line;
        m += k_crlf;
        if (end_paragraph) m += k_crlf;
        end_paragraph = false;
        ++body_lines;
        line.clear();
        grown = word.size();
      }
      if (body_lines >= 1 && grown > room()) {
        done = true;
        break;
      }
      if (!line.empty()) line += ' ';
      line += word;
    }
    if (!done && r.below(6) == 0) end_paragraph = true;
  }
  if (!line.empty()) {
    if (line.back() != '.' && line.back() != '?') line += '.';
    m += line;
    m += k_crlf;
  }
  m += closing;
  return m;
}

}  // namespace packmail::bench
