#include "packmail/storage/status.h"

namespace packmail::storage {

std::string_view to_string(errc code) {
  switch (code) {
    case errc::ok:
      return "ok";
    case errc::not_found:
      return "not_found";
    case errc::exists:
      return "exists";
    case errc::try_create:
      return "try_create";
    case errc::over_quota:
      return "over_quota";
    case errc::in_use:
      return "in_use";
    case errc::expunged:
      return "expunged";
    case errc::corrupt:
      return "corrupt";
    case errc::temporary:
      return "temporary";
    case errc::internal:
      return "internal";
    case errc::invalid_argument:
      return "invalid_argument";
  }
  return "unknown";
}

std::string status::to_string() const {
  if (ok()) return "ok";
  std::string out(storage::to_string(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

}  // namespace packmail::storage
