// How addresses name the users of the passwd-file: the [delivery] settings
// (docs/configuration.md), used for LMTP recipients and IMAP/POP3 logins
// (users/recipient_map.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace packmail::server {

struct address_rules {
  // Domains whose addresses name passwd-file users by their local part
  // (alice@example.com -> alice). Default: empty, i.e. every domain is local.
  std::vector<std::string> local_domains;
  // Each of these characters separates a user from a folder in a recipient's
  // local part (alice+work@example.com -> folder "work" of alice).
  // Default: "+"; empty: off.
  std::string recipient_delimiter = "+";

  // Case-insensitive; every domain when local_domains is empty.
  bool is_local_domain(std::string_view domain) const;
};

}  // namespace packmail::server
