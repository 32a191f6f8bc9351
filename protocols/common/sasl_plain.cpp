#include "sasl_plain.h"

#include "base64.h"

namespace packmail::protocols {

sasl_plain_result parse_sasl_plain(std::string_view base64) {
  const auto decoded = base64_decode(base64);
  if (!decoded) return sasl_plain_error::bad_base64;
  const std::string_view msg = *decoded;
  const auto first = msg.find('\0');
  if (first == std::string_view::npos) return sasl_plain_error::bad_format;
  const auto second = msg.find('\0', first + 1);
  if (second == std::string_view::npos) return sasl_plain_error::bad_format;
  return sasl_plain_credentials{std::string(msg.substr(0, first)),
                                std::string(msg.substr(first + 1, second - first - 1)),
                                std::string(msg.substr(second + 1))};
}

}  // namespace packmail::protocols
