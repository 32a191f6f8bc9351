#include "responses.h"

#include <cstdio>

namespace packmail::protocols::pop3 {

void append_ok(std::string& out, std::string_view text) {
  out += "+OK";
  if (!text.empty()) {
    out += ' ';
    out += text;
  }
  out += "\r\n";
}

void append_err(std::string& out, std::string_view text) {
  out += "-ERR ";
  out += text;
  out += "\r\n";
}

std::string storage_failure(storage::errc code) {
  using storage::errc;
  // RFC 3206 4: SYS/TEMP for a problem that may go away, SYS/PERM for one
  // that needs an administrator.
  switch (code) {
    case errc::ok:
      return "Completed";
    case errc::not_found:
      return "No such message";
    case errc::expunged:
      return "Message was deleted by another session";
    case errc::in_use:
      return "[IN-USE] Maildrop is in use";
    case errc::temporary:
      return "[SYS/TEMP] Temporary failure, try again later";
    case errc::over_quota:
      return "[SYS/TEMP] Quota exceeded";
    case errc::corrupt:
      return "[SYS/PERM] Stored data failed verification";
    case errc::internal:
      return "[SYS/PERM] Internal error";
    case errc::exists:
    case errc::try_create:
    case errc::invalid_argument:
      return "[SYS/PERM] Operation failed";
  }
  return "[SYS/PERM] Internal error";
}

void append_multiline(std::string& out, std::string_view bytes) {
  // Each '.' at a line start costs one octet more; typical mail has few.
  out.reserve(out.size() + bytes.size() + bytes.size() / 64 + 8);
  bool line_start = true;
  std::size_t run = 0;  // start of the octets not yet copied
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (line_start && c == '.') {
      out.append(bytes.substr(run, i - run));
      out += '.';
      run = i;
    } else if (c == '\n' && (i == 0 || bytes[i - 1] != '\r')) {
      out.append(bytes.substr(run, i - run));
      out += '\r';
      run = i;
    }
    line_start = c == '\n';
  }
  out.append(bytes.substr(run));
  if (!bytes.empty() && !bytes.ends_with('\n')) out += "\r\n";
  out += ".\r\n";
}

std::string_view top_of_message(std::string_view message, std::uint64_t body_lines) {
  std::size_t pos = 0;
  bool in_header = true;
  std::uint64_t sent = 0;
  while (pos < message.size()) {
    const std::size_t lf = message.find('\n', pos);
    const std::size_t next = lf == std::string_view::npos ? message.size() : lf + 1;
    if (in_header) {
      std::string_view line = message.substr(pos, next - pos);
      if (line.ends_with('\n')) line.remove_suffix(1);
      if (line.ends_with('\r')) line.remove_suffix(1);
      if (line.empty()) in_header = false;
    } else {
      if (sent == body_lines) break;
      ++sent;
    }
    pos = next;
  }
  return message.substr(0, pos);
}

std::string uidl(std::uint32_t uid, std::uint32_t uidvalidity) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%08X%08X", static_cast<unsigned>(uid),
                static_cast<unsigned>(uidvalidity));
  return buffer;
}

}  // namespace packmail::protocols::pop3
