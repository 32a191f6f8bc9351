#include "net/admin_http.h"

#include <openssl/crypto.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace packmail::server::detail {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr auto k_idle_timeout = std::chrono::seconds(30);
constexpr std::size_t k_max_body = 64 * 1024;

// A reply whose body is the JSON text `json`.
http::response<http::string_body> json_text_response(const http::request<http::string_body>& req,
                                                     http::status status, std::string json) {
  http::response<http::string_body> res{status, req.version()};
  res.set(http::field::server, "packmaild");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(json) + "\n";
  res.prepare_payload();
  return res;
}

http::response<http::string_body> json_response(const http::request<http::string_body>& req,
                                                http::status status, const nlohmann::json& body) {
  return json_text_response(req, status, body.dump());
}

// Closes the socket when the deadline passes, which fails the pending read or
// write (Beast's HTTP operations are not all cancellable per operation). The
// timer runs on the socket's strand; re-arming cancels the previous wait.
void arm_watchdog(asio::steady_timer& timer, asio::ip::tcp::socket& socket) {
  timer.expires_after(k_idle_timeout);
  timer.async_wait([&socket](const boost::system::error_code& ec) {
    if (ec) return;  // re-armed or destroyed: the socket may be gone
    boost::system::error_code ignored;
    socket.close(ignored);
  });
}

}  // namespace

std::string admin_refusal() {
  const std::string body = R"({"error":"too many connections"})"
                           "\n";
  return "HTTP/1.1 503 Service Unavailable\r\nServer: packmaild\r\n"
         "Content-Type: application/json\r\nCache-Control: no-store\r\nConnection: close\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

asio::awaitable<void> serve_admin_connection(asio::ip::tcp::socket& socket,
                                             const admin_context& context) {
  boost::beast::flat_buffer buffer;
  asio::steady_timer timer(socket.get_executor());
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(k_max_body);
    arm_watchdog(timer, socket);
    const auto [read_ec, read_n] = co_await http::async_read(socket, buffer, parser, use_nothrow);
    if (read_ec) co_return;  // EOF, timeout (closed by the watchdog), bad request
    const auto& req = parser.get();

    http::response<http::string_body> res;
    const std::string_view target(req.target().data(), req.target().size());
    const auto path = target.substr(0, target.find('?'));
    if (path == "/health") {
      if (req.method() != http::verb::get) {
        res = json_response(req, http::status::method_not_allowed,
                            {{"error", "method not allowed; use GET"}});
        res.set(http::field::allow, "GET");
      } else {
        // The users file may be re-read from disk: off the I/O thread. (A
        // named lambda: GCC 12 mishandles temporaries in co_await.)
        auto count = [&context]() -> asio::awaitable<std::size_t> {
          co_return context.user_count ? context.user_count() : 0;
        };
        const std::size_t users =
            co_await asio::co_spawn(context.pool, std::move(count), asio::use_awaitable);
        const std::size_t connections = context.connection_count ? context.connection_count() : 0;
        res = json_response(req, http::status::ok,
                            {{"status", "ok"},
                             {"version", context.version},
                             {"users", users},
                             {"connections", connections}});
      }
    } else if (path.starts_with("/api/") && context.api) {
      const auto auth = req[http::field::authorization];
      const std::string expected = "Bearer " + context.api_token;
      if (context.api_token.empty() || auth.size() != expected.size() ||
          CRYPTO_memcmp(auth.data(), expected.data(), expected.size()) != 0) {
        res = json_response(
            req, http::status::unauthorized,
            {{"error", "missing or wrong bearer token (see <data-dir>/admin.token)"}});
        res.set(http::field::www_authenticate, "Bearer");
      } else {
        const std::string method(req.method_string());
        const std::string api_path(path);
        const std::string body = req.body();
        auto call = [&context, &method, &api_path, &body]() -> asio::awaitable<api_reply> {
          co_return context.api(method, api_path, body);
        };
        api_reply reply =
            co_await asio::co_spawn(context.pool, std::move(call), asio::use_awaitable);
        res =
            json_text_response(req, static_cast<http::status>(reply.status), std::move(reply.json));
      }
    } else {
      res = json_response(req, http::status::not_found,
                          {{"error", "not found: " + std::string(path)}});
    }
    arm_watchdog(timer, socket);
    const auto [write_ec, write_n] = co_await http::async_write(socket, res, use_nothrow);
    if (write_ec) co_return;
    if (!res.keep_alive()) {
      boost::system::error_code ec;
      socket.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
      co_return;
    }
  }
}

}  // namespace packmail::server::detail
