// Internal to server/net: the admin HTTP listener's per-connection loop
// (Boost.Beast, kept in its own translation unit).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstddef>
#include <functional>
#include <string>

#include "net/server.h"

namespace packmail::server::detail {

struct admin_context {
  std::string version;
  std::function<std::size_t()> user_count;        // may block: runs on pool
  std::function<std::size_t()> connection_count;  // quick: runs on the I/O thread
  boost::asio::thread_pool::executor_type pool;
  api_handler api;        // /api/... (server.h); may block: runs on pool
  std::string api_token;  // required as "Authorization: Bearer <token>"
};

// Serves HTTP/1.1 requests (keep-alive) on the socket until the client closes,
// 30 s pass without a complete request, or the socket is closed from outside.
//   GET /health -> 200 {"status":"ok","version":...,"users":N,"connections":M}
//     (M: open client connections, as counted against the connection limits)
//   /api/... -> the api handler, with the bearer token (401 without it)
//   anything else -> 404 (405 for a wrong method on /health) {"error":...}
// The whole reply to an admin connection refused by the server's admin
// connection limit: 503 with a JSON error, Connection: close.
std::string admin_refusal();

boost::asio::awaitable<void> serve_admin_connection(boost::asio::ip::tcp::socket& socket,
                                                    const admin_context& context);

}  // namespace packmail::server::detail
