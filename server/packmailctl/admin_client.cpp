#include "packmailctl/admin_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <stdexcept>

#include "config/listen_address.h"

namespace packmail::server {

admin_response admin_request(const std::string& address, const std::string& token,
                             const std::string& method, const std::string& target) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  std::optional<listen_address> where;
  try {
    where = parse_listen_address(address);
  } catch (const std::exception& e) {
    throw std::runtime_error("--admin: " + std::string(e.what()));
  }
  if (!where) throw std::runtime_error("--admin: the admin listener is off");
  try {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::minutes(10));  // a verify reads every body
    asio::ip::tcp::resolver resolver(io);
    stream.connect(resolver.resolve(where->host, std::to_string(where->port)));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, where->to_string());
    req.set(http::field::authorization, "Bearer " + token);
    req.set(http::field::user_agent, "packmailctl");
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    beast::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    admin_response out;
    out.status = res.result_int();
    out.body = nlohmann::json::parse(res.body(), nullptr, false);
    if (out.body.is_discarded()) throw std::runtime_error("the server's answer is not JSON");
    return out;
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot reach the admin API at " + address + ": " +
                             e.code().message());
  }
}

}  // namespace packmail::server
