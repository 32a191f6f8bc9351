// A listener's address as written in the config file and on the command line:
// "IPv4:PORT" ("127.0.0.1:1143", "0.0.0.0:143"), "[IPv6]:PORT" ("[::1]:1143",
// "[::]:143"), or "off". Hosts are IP literals (no name resolution at
// startup). Port 0 asks the kernel for a free port; packmaild logs the port it
// got.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace packmail::server {

struct listen_address {
  std::string host;  // "127.0.0.1" or "::1" (no brackets)
  std::uint16_t port = 0;

  // "127.0.0.1:1143" or "[::1]:1143"
  std::string to_string() const;
  bool operator==(const listen_address&) const = default;
};

class listen_address_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// nullopt for "off"; throws listen_address_error ("invalid address 'x': ...")
// for anything else that is not an address.
std::optional<listen_address> parse_listen_address(std::string_view text);

}  // namespace packmail::server
