// packmailctl's client of the admin HTTP API (Boost.Beast, synchronous).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace packmail::server {

struct admin_response {
  unsigned status = 0;
  nlohmann::json body;  // the JSON the server answered (null if none)
};

// One request to http://<address><target> with the bearer token. Throws
// std::runtime_error when the server cannot be reached or answers garbage.
admin_response admin_request(const std::string& address, const std::string& token,
                             const std::string& method, const std::string& target);

}  // namespace packmail::server
