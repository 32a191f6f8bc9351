#include "packmail/protocols/imap/mailbox_name.h"

#include <cstdint>

namespace packmail::protocols::imap {

namespace {

constexpr std::string_view k_base64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == ',') return 63;
  return -1;
}

bool is_printable(std::uint32_t c) { return c >= 0x20 && c <= 0x7e; }

void put_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// Decodes one UTF-8 sequence at text[i]; false when invalid.
bool next_utf8(std::string_view text, std::size_t& i, std::uint32_t& cp) {
  const auto b0 = static_cast<unsigned char>(text[i]);
  std::size_t length = 0;
  std::uint32_t min = 0;
  if (b0 < 0x80) {
    cp = b0;
    ++i;
    return true;
  } else if ((b0 & 0xe0) == 0xc0) {
    length = 2, cp = b0 & 0x1f, min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    length = 3, cp = b0 & 0x0f, min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    length = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return false;
  }
  if (i + length > text.size()) return false;
  for (std::size_t k = 1; k < length; ++k) {
    const auto b = static_cast<unsigned char>(text[i + k]);
    if ((b & 0xc0) != 0x80) return false;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
  i += length;
  return true;
}

void flush_base64(std::string& out, const std::u16string& units) {
  out.push_back('&');
  std::uint32_t bits = 0;
  int count = 0;
  for (char16_t u : units) {
    bits = (bits << 16) | u;
    count += 16;
    while (count >= 6) {
      count -= 6;
      out.push_back(k_base64[(bits >> count) & 0x3f]);
    }
    bits &= (1u << count) - 1;
  }
  if (count > 0) out.push_back(k_base64[(bits << (6 - count)) & 0x3f]);
  out.push_back('-');
}

}  // namespace

syntax_result<std::string> mutf7_to_utf8(std::string_view name) {
  std::string out;
  std::size_t i = 0;
  std::size_t last_run_end = std::string_view::npos;  // index just after a BASE64 run's "-"
  while (i < name.size()) {
    const char c = name[i];
    if (c != '&') {
      if (!is_printable(static_cast<unsigned char>(c))) {
        return make_syntax_error("Invalid octet in modified UTF-7 mailbox name");
      }
      out.push_back(c);
      ++i;
      continue;
    }
    const std::size_t dash = name.find('-', i + 1);
    if (dash == std::string_view::npos) {
      return make_syntax_error("Unterminated BASE64 in modified UTF-7 mailbox name");
    }
    if (dash == i + 1) {  // "&-" is "&"
      out.push_back('&');
      i = dash + 1;
      continue;
    }
    if (last_run_end == i) return make_syntax_error("Null shift in modified UTF-7 mailbox name");
    std::uint32_t bits = 0;
    int count = 0;
    char16_t high = 0;  // pending high surrogate
    for (std::size_t k = i + 1; k < dash; ++k) {
      const int v = base64_value(name[k]);
      if (v < 0) return make_syntax_error("Invalid BASE64 in modified UTF-7 mailbox name");
      bits = (bits << 6) | static_cast<std::uint32_t>(v);
      count += 6;
      if (count < 16) continue;
      count -= 16;
      const auto unit = static_cast<char16_t>((bits >> count) & 0xffff);
      bits &= (1u << count) - 1;
      if (unit >= 0xd800 && unit <= 0xdbff) {
        if (high != 0) return make_syntax_error("Unpaired surrogate in mailbox name");
        high = unit;
        continue;
      }
      std::uint32_t cp = unit;
      if (unit >= 0xdc00 && unit <= 0xdfff) {
        if (high == 0) return make_syntax_error("Unpaired surrogate in mailbox name");
        cp = 0x10000 + ((static_cast<std::uint32_t>(high) - 0xd800) << 10) + (unit - 0xdc00);
        high = 0;
      } else if (high != 0) {
        return make_syntax_error("Unpaired surrogate in mailbox name");
      }
      if (is_printable(cp)) {
        return make_syntax_error("Printable ASCII encoded in modified UTF-7 mailbox name");
      }
      put_utf8(out, cp);
    }
    // RFC 2152: the last BASE64 character may carry up to 5 padding bits, all zero.
    if (high != 0 || count >= 6 || bits != 0) {
      return make_syntax_error("Invalid BASE64 padding in modified UTF-7 mailbox name");
    }
    i = dash + 1;
    last_run_end = i;
  }
  return out;
}

syntax_result<std::string> utf8_to_mutf7(std::string_view name) {
  std::string out;
  std::u16string run;
  std::size_t i = 0;
  while (i < name.size()) {
    std::uint32_t cp = 0;
    if (!next_utf8(name, i, cp)) return make_syntax_error("Invalid UTF-8 in mailbox name");
    if (is_printable(cp)) {
      if (!run.empty()) {
        flush_base64(out, run);
        run.clear();
      }
      out.push_back(static_cast<char>(cp));
      if (cp == '&') out.push_back('-');
      continue;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      run.push_back(static_cast<char16_t>(0xd800 + (cp >> 10)));
      run.push_back(static_cast<char16_t>(0xdc00 + (cp & 0x3ff)));
    } else {
      run.push_back(static_cast<char16_t>(cp));
    }
  }
  if (!run.empty()) flush_base64(out, run);
  return out;
}

}  // namespace packmail::protocols::imap
