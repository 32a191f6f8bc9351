#include "config/listen_address.h"

#include <arpa/inet.h>

#include <charconv>

namespace packmail::server {

std::string listen_address::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<listen_address> parse_listen_address(std::string_view text) {
  if (text == "off") return std::nullopt;
  auto fail = [&](std::string_view why) {
    return listen_address_error("invalid address '" + std::string(text) + "': " + std::string(why) +
                                " (expected ADDR:PORT, [IPv6]:PORT or off)");
  };
  std::string_view host, port;
  bool v6 = false;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) throw fail("missing ']'");
    host = text.substr(1, close - 1);
    if (text.size() <= close + 1 || text[close + 1] != ':') throw fail("missing ':PORT'");
    port = text.substr(close + 2);
    v6 = true;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) throw fail("missing ':PORT'");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) throw fail("IPv6 addresses need brackets");
  }
  if (host.empty()) throw fail("empty host");
  const std::string host_z(host);
  unsigned char buf[16];
  if (::inet_pton(v6 ? AF_INET6 : AF_INET, host_z.c_str(), buf) != 1) {
    throw fail(v6 ? "not an IPv6 address" : "not an IPv4 address");
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    throw fail("port must be a number from 0 to 65535");
  }
  return listen_address{host_z, static_cast<std::uint16_t>(value)};
}

}  // namespace packmail::server
