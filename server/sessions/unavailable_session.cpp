#include "sessions/unavailable_session.h"

namespace packmail::server {

unavailable_session::unavailable_session(protocol_kind protocol, std::string host_name)
    : protocol_(protocol), host_name_(std::move(host_name)) {}

protocols::output unavailable_session::greeting() {
  protocols::output out;
  out.close = true;
  switch (protocol_) {
    case protocol_kind::imap:
      out.bytes = "* BYE [UNAVAILABLE] packmail IMAP service is not available yet\r\n";
      break;
    case protocol_kind::pop3:
      out.bytes = "-ERR [SYS/TEMP] packmail POP3 service is not available yet\r\n";
      break;
    case protocol_kind::lmtp:
      out.bytes = "421 4.3.2 " + host_name_ + " Service not available\r\n";
      break;
  }
  return out;
}

protocols::output unavailable_session::on_input(std::string_view) {
  protocols::output out;
  out.close = true;
  return out;
}

protocols::output unavailable_session::on_idle_timeout() {
  protocols::output out;
  out.close = true;
  return out;
}

protocols::output unavailable_session::on_shutdown() {
  protocols::output out;
  out.close = true;
  switch (protocol_) {
    case protocol_kind::imap:
      out.bytes = "* BYE Server shutting down\r\n";
      break;
    case protocol_kind::pop3:
      out.bytes = "-ERR [SYS/TEMP] Server shutting down\r\n";
      break;
    case protocol_kind::lmtp:
      out.bytes = "421 4.3.2 " + host_name_ + " Server shutting down\r\n";
      break;
  }
  return out;
}

std::string refusal_text(protocol_kind protocol, protocols::refusal_reason) {
  // One text for both reasons: telling a client which limit it hit helps an
  // attacker more than a legitimate user.
  switch (protocol) {
    case protocol_kind::imap:
      return "* BYE [UNAVAILABLE] Too many connections\r\n";
    case protocol_kind::pop3:
      return "-ERR [SYS/TEMP] Too many connections\r\n";
    case protocol_kind::lmtp:
      return "421 4.7.0 Too many connections\r\n";
  }
  return {};
}

}  // namespace packmail::server
