// packmaild's network side: one acceptor per configured listener, one
// coroutine per connection, implicit TLS and STARTTLS, the admin HTTP
// listener, connection limits, and graceful shutdown on SIGTERM/SIGINT.
//
// Threading: an io_context run by io_threads threads; each connection's I/O
// runs on its own strand. Session calls (which may block on the store) run on
// a separate thread pool, serialised per connection by a strand there, so a
// slow disk never stalls other connections' I/O.
//
// This header keeps Asio out of its includers (pimpl).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/listen_address.h"
#include "packmail/protocols/session.h"

namespace packmail::server {

// Creates the session for a new connection. Called on an I/O thread; must be
// quick (no store calls). The wake function may be stored by the session and
// called from any thread until the session is destroyed.
using session_factory = std::function<std::unique_ptr<protocols::session>(
    const protocols::connection_info&, protocols::wake_function)>;

struct listener_options {
  std::string name;  // "imap", "imaps", ...: in logs and errors
  listen_address address;
  bool implicit_tls = false;  // TLS handshake right after accept
  session_factory factory;
  // The protocol's reply to a connection over a limit (see server_options).
  // Empty: such connections are closed without a word. Not used on implicit
  // TLS listeners, which close refused connections without a handshake.
  protocols::refusal_function refusal;
  // Non-empty: listen on this unix-domain socket instead of address. A stale
  // socket file (nobody accepting) is replaced; the file is removed at
  // shutdown. Connections count in max_connections only.
  std::filesystem::path unix_path;
  // The socket file's permissions. Default: 0666 (as Dovecot's lmtp socket).
  std::filesystem::perms unix_mode =
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
      std::filesystem::perms::group_read | std::filesystem::perms::group_write |
      std::filesystem::perms::others_read | std::filesystem::perms::others_write;
};

// The answer to an admin API request: an HTTP status and a JSON body.
struct api_reply {
  unsigned status = 200;
  std::string json;
};
// Serves /api/... on the admin listener: (method, path, body). May block (it
// runs on a session thread).
using api_handler = std::function<api_reply(const std::string& method, const std::string& path,
                                            const std::string& body)>;

struct server_options {
  std::vector<listener_options> listeners;
  std::optional<listen_address> admin;  // the admin HTTP listener, if any
  // The certificate for implicit TLS and STARTTLS.
  std::filesystem::path tls_cert, tls_key;
  std::uint32_t io_threads = 1;  // 0 counts as 1
  // Connection limits, checked when a connection is accepted, before any
  // session or TLS handshake; 0 = no limit. A connection over either limit
  // gets its listener's refusal (on plain listeners; implicit TLS listeners
  // close it without a handshake, as a handshake is the expensive part of a
  // flood) and is closed; no session is created and no session thread is
  // involved. A warning is logged for it, at most one line per
  // k_refusal_log_interval (server.cpp: 10 s) with the number of refusals left
  // unlogged. A connection counts from accept until its socket is closed.
  // Open client connections over all listeners. Default: 1000.
  std::uint32_t max_connections = 1000;
  // Open client connections from one IP address (IPv6 addresses count whole;
  // IPv4-mapped IPv6 addresses count as their IPv4 address). Default: 50.
  std::uint32_t max_connections_per_ip = 50;
  // Open admin HTTP connections; not counted in the two limits above. Over it
  // a connection gets "503 Service Unavailable" and is closed. Default: 16.
  std::uint32_t max_admin_connections = 16;
  std::uint32_t session_threads = 4;  // 0 counts as 1
  // After SIGTERM/SIGINT: how long connections get to close by themselves.
  std::chrono::milliseconds shutdown_timeout{10000};
  // Reported by GET /health. Called on a session thread.
  std::string version;
  std::function<std::size_t()> user_count;
  // The admin API under /api/: requests must carry "Authorization: Bearer
  // <api_token>" (401 otherwise). No handler: /api/ answers 404.
  api_handler api;
  std::string api_token;
};

// The server cannot start; what() is one line for stderr:
// "cannot listen on 127.0.0.1:1143 (imap): Address already in use".
class startup_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class server {
 public:
  // Loads the TLS context and binds every listener (nothing is accepted yet).
  // Throws startup_error.
  explicit server(server_options options);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // (name, "127.0.0.1:40123"): the addresses actually bound (port 0 resolved).
  std::vector<std::pair<std::string, std::string>> bound_addresses() const;

  // Accepts and serves until SIGTERM or SIGINT arrives or stop() is called,
  // then shuts down gracefully: stops accepting, lets session calls and
  // queued writes finish, sends each live session's on_shutdown() goodbye,
  // closes connections, waits up to shutdown_timeout, then closes what is
  // left by force. Returns when every thread is joined.
  //
  // The server handles SIGTERM and SIGINT from its construction on; run()
  // unblocks both in the calling thread (and the I/O threads it starts). So a
  // program may block them first thing in main(): a signal arriving during
  // start-up then stays pending, and run() shuts down cleanly at once.
  void run();
  // Begins the shutdown run() performs on a signal. Thread-safe.
  void stop();

  // Client connections now counted against the limits (admin excluded), and
  // the number of distinct addresses they come from. Thread-safe.
  struct connection_counts {
    std::size_t total = 0;
    std::size_t addresses = 0;
  };
  connection_counts open_connections() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace packmail::server
