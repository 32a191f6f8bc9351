// The connection plumbing of server/net with a scripted session: STARTTLS,
// implicit TLS, wake-ups pushed without input, idle timeouts, a graceful
// stop that lets a slow session call finish and says goodbye, and the
// connection limits. (The protocol sessions arrive later; this is what they
// will rely on.)
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <thread>
#include <utility>

#include "net/server.h"
#include "temp_dir.h"
#include "tls/self_signed_cert.h"

using namespace packmail::server;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

// Set while a SLOW call runs, so a test can act during it.
std::atomic<bool> slow_call_running{false};
// Sessions created so far: a refused connection must not create one.
std::atomic<int> sessions_created{0};
// The scripted sessions' idle timeout; tests of counts raise it so that no
// connection times out under them on a slow machine.
std::atomic<std::chrono::milliseconds::rep> idle_timeout_ms{700};

// Lines in, scripted answers out.
class scripted_session final : public packmail::protocols::session {
 public:
  scripted_session(bool tls, packmail::protocols::wake_function wake)
      : tls_(tls), wake_(std::move(wake)) {}
  ~scripted_session() override {
    if (waker_.joinable()) waker_.join();
  }

  packmail::protocols::output greeting() override { return {"* OK ready\r\n", false, false}; }

  packmail::protocols::output on_input(std::string_view bytes) override {
    packmail::protocols::output out;
    pending_ += bytes;
    if (steps_ > 0) {
      out.bytes += "STEP " + std::to_string(steps_--) + "\r\n";
      out.more = true;
      return out;
    }
    std::size_t end;
    while ((end = pending_.find("\r\n")) != std::string::npos) {
      const std::string line = pending_.substr(0, end);
      pending_.erase(0, end + 2);
      if (line == "STARTTLS") {
        out.bytes += "OK begin TLS\r\n";
        out.start_tls = true;
      } else if (line == "WAKE") {
        // News from another thread a little later, as a store watch would.
        if (waker_.joinable()) waker_.join();
        waker_ = std::thread([wake = wake_] {
          std::this_thread::sleep_for(50ms);
          wake();
        });
        out.bytes += "OK waiting\r\n";
      } else if (line == "SLOW") {
        slow_call_running = true;
        std::this_thread::sleep_for(500ms);  // a store call blocking on disk
        out.bytes += "OK slow done\r\n";
      } else if (line == "SLOW QUIT") {
        slow_call_running = true;
        std::this_thread::sleep_for(500ms);
        out.bytes += "BYE\r\n";
        out.close = true;
      } else if (line == "DELAY") {
        // A failed login: the reply waits, and the rest of the input with it.
        out.bytes += "OK delayed\r\n";
        out.delay = 300ms;
        out.more = !pending_.empty();
        return out;
      } else if (line.starts_with("STEPS ")) {
        // Answers in steps: the server calls again with no input.
        steps_ = std::stoi(line.substr(6));
      } else if (line == "QUIT") {
        out.bytes += "BYE\r\n";
        out.close = true;
      } else {
        out.bytes += "ECHO " + line + (tls_ ? " tls" : " plain") + "\r\n";
      }
      if (steps_ > 0) break;
    }
    if (steps_ > 0) {
      out.bytes += "STEP " + std::to_string(steps_--) + "\r\n";
      out.more = true;
    }
    return out;
  }
  void on_tls_started() override { tls_ = true; }
  packmail::protocols::output on_idle_timeout() override { return {"* BYE idle\r\n", false, true}; }
  packmail::protocols::output on_wake() override { return {"* WOKE\r\n", false, false}; }
  std::chrono::steady_clock::duration idle_timeout() const override {
    return std::chrono::milliseconds(idle_timeout_ms.load());
  }
  // close = false on purpose: the server closes after the goodbye anyway.
  packmail::protocols::output on_shutdown() override {
    return {"* BYE shutting down\r\n", false, false};
  }

 private:
  bool tls_;
  int steps_ = 0;
  packmail::protocols::wake_function wake_;
  std::string pending_;
  std::thread waker_;
};

// The refusal names the reason, so tests see which limit the server applied.
std::string scripted_refusal(packmail::protocols::refusal_reason reason) {
  return reason == packmail::protocols::refusal_reason::too_many_connections
             ? "NO too many connections\r\n"
             : "NO too many connections from your address\r\n";
}

bool ipv6_loopback_available() {
  asio::io_context io;
  tcp::acceptor a(io);
  boost::system::error_code ec;
  a.open(tcp::v6(), ec);
  if (!ec) a.bind(tcp::endpoint(asio::ip::make_address("::1"), 0), ec);
  return !ec;
}

listener_options listener(std::string name, bool implicit_tls,
                          std::filesystem::path unix_path = {}) {
  listener_options l;
  l.name = std::move(name);
  l.address = {"127.0.0.1", 0};
  l.implicit_tls = implicit_tls;
  l.factory = [](const packmail::protocols::connection_info& info,
                 packmail::protocols::wake_function wake) {
    ++sessions_created;
    return std::make_unique<scripted_session>(info.tls, std::move(wake));
  };
  l.refusal = scripted_refusal;
  l.unix_path = std::move(unix_path);
  return l;
}

struct fixture {
  // tweak adjusts the options (limits, extra listeners) before the start.
  explicit fixture(const std::function<void(server_options&)>& tweak = {}) {
    const auto files = ensure_self_signed_certificate(dir.path());
    server_options options;
    options.listeners.push_back(listener("plain", false));
    options.listeners.push_back(listener("tls", true));
    options.tls_cert = files.cert;
    options.tls_key = files.key;
    options.io_threads = 2;
    options.session_threads = 2;
    options.shutdown_timeout = 3000ms;
    if (tweak) tweak(options);
    srv = std::make_unique<server>(std::move(options));
    for (const auto& [name, address] : srv->bound_addresses()) {
      if (address.starts_with("/")) continue;  // a unix socket
      ports[name] = static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
    }
    plain_port = ports["plain"];
    tls_port = ports["tls"];
    runner = std::thread([this] { srv->run(); });
  }

  // Waits (with a deadline) until the server counts total connections.
  bool wait_open(std::size_t total, std::size_t addresses) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      const auto c = srv->open_connections();
      if (c.total == total && c.addresses == addresses) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
  }
  ~fixture() {
    srv->stop();
    runner.join();
    idle_timeout_ms = 700;
  }

  testing::temp_dir dir;
  std::unique_ptr<server> srv;
  std::thread runner;
  std::map<std::string, std::uint16_t> ports;
  std::uint16_t plain_port = 0, tls_port = 0;
};

// A blocking client: plain, then optionally TLS on the same socket.
class client {
 public:
  // from: the local address to connect from (any 127.0.0.0/8 address is
  // local on Linux), or the server's for IPv6.
  explicit client(std::uint16_t port, const std::string& from = "127.0.0.1",
                  const std::string& to = "127.0.0.1")
      : socket_(io_), tls_context_(asio::ssl::context::tls_client) {
    const auto target = asio::ip::make_address(to);
    socket_.open(target.is_v6() ? tcp::v6() : tcp::v4());
    socket_.bind(tcp::endpoint(asio::ip::make_address(from), 0));
    socket_.connect(tcp::endpoint(target, port));
    tls_context_.set_verify_mode(asio::ssl::verify_none);
  }
  void close() { socket_.close(); }
  // Raw bytes until the server closes (for a refused TLS connection).
  std::string rest() {
    boost::system::error_code ec;
    asio::read(socket_, asio::dynamic_buffer(buffer_), ec);
    return std::exchange(buffer_, {});
  }
  void start_tls() {
    tls_.emplace(socket_, tls_context_);
    tls_->handshake(asio::ssl::stream_base::client);
  }
  void send(const std::string& s) {
    if (tls_) {
      asio::write(*tls_, asio::buffer(s));
    } else {
      asio::write(socket_, asio::buffer(s));
    }
  }
  // The next line without CRLF; "<eof>" when the server closed.
  std::string line() {
    boost::system::error_code ec;
    const auto n = tls_ ? asio::read_until(*tls_, asio::dynamic_buffer(buffer_), "\r\n", ec)
                        : asio::read_until(socket_, asio::dynamic_buffer(buffer_), "\r\n", ec);
    if (ec) return "<eof>";
    std::string l = buffer_.substr(0, n - 2);
    buffer_.erase(0, n);
    return l;
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  asio::ssl::context tls_context_;
  std::optional<asio::ssl::stream<tcp::socket&>> tls_;
  std::string buffer_;
};

}  // namespace

TEST_CASE("greeting, echo and a session-requested close") {
  fixture f;
  client c(f.plain_port);
  CHECK(c.line() == "* OK ready");
  c.send("hello\r\nagain\r\n");
  CHECK(c.line() == "ECHO hello plain");
  CHECK(c.line() == "ECHO again plain");
  c.send("QU");  // any split of the input is fine
  c.send("IT\r\n");
  CHECK(c.line() == "BYE");
  CHECK(c.line() == "<eof>");
}

TEST_CASE("STARTTLS: the reply in clear text, then the handshake, then TLS") {
  fixture f;
  client c(f.plain_port);
  CHECK(c.line() == "* OK ready");
  c.send("STARTTLS\r\n");
  CHECK(c.line() == "OK begin TLS");
  c.start_tls();
  c.send("secret\r\n");
  CHECK(c.line() == "ECHO secret tls");
}

TEST_CASE("implicit TLS: handshake first, then the greeting") {
  fixture f;
  client c(f.tls_port);
  c.start_tls();
  CHECK(c.line() == "* OK ready");
  c.send("x\r\n");
  CHECK(c.line() == "ECHO x tls");
}

TEST_CASE("a wake-up pushes output without input") {
  fixture f;
  client c(f.plain_port);
  CHECK(c.line() == "* OK ready");
  c.send("WAKE\r\n");
  CHECK(c.line() == "OK waiting");
  CHECK(c.line() == "* WOKE");
}

TEST_CASE("the idle timeout answers and closes") {
  fixture f;
  client c(f.plain_port);
  CHECK(c.line() == "* OK ready");
  const auto start = std::chrono::steady_clock::now();
  CHECK(c.line() == "* BYE idle");
  CHECK(std::chrono::steady_clock::now() - start >= 600ms);
  CHECK(c.line() == "<eof>");
}

TEST_CASE("stop lets a running session call finish and its reply go out") {
  fixture f;
  client c(f.plain_port);
  CHECK(c.line() == "* OK ready");
  c.send("SLOW\r\n");
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!slow_call_running && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  REQUIRE(slow_call_running);
  f.srv->stop();
  CHECK(c.line() == "OK slow done");
  CHECK(c.line() == "* BYE shutting down");
  CHECK(c.line() == "<eof>");
}

TEST_CASE("stop says the session's goodbye to idle connections, then closes them") {
  fixture f;
  client plain(f.plain_port);
  client tls(f.tls_port);
  tls.start_tls();
  CHECK(plain.line() == "* OK ready");
  CHECK(tls.line() == "* OK ready");
  f.srv->stop();
  CHECK(plain.line() == "* BYE shutting down");
  CHECK(plain.line() == "<eof>");
  CHECK(tls.line() == "* BYE shutting down");
  CHECK(tls.line() == "<eof>");
}

TEST_CASE("no goodbye after the session closed the connection itself") {
  // The stop arrives while the call that closes the connection is running:
  // the session's close wins, and no shutdown goodbye follows it.
  fixture f;
  client c(f.plain_port);
  CHECK(c.line() == "* OK ready");
  slow_call_running = false;
  c.send("SLOW QUIT\r\n");
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!slow_call_running && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  REQUIRE(slow_call_running);
  f.srv->stop();
  CHECK(c.line() == "BYE");
  CHECK(c.line() == "<eof>");
}

TEST_CASE("max_connections: the protocol's refusal over the total, accepted again after a close") {
  idle_timeout_ms = 60000;
  fixture f([](server_options& o) {
    o.max_connections = 2;
    o.max_connections_per_ip = 0;
  });
  auto a = std::make_unique<client>(f.plain_port);
  client b(f.tls_port, "127.0.0.2");  // the total spans listeners and addresses
  CHECK(a->line() == "* OK ready");
  b.start_tls();
  CHECK(b.line() == "* OK ready");
  CHECK(f.wait_open(2, 2));
  const int sessions = sessions_created;

  client refused(f.plain_port, "127.0.0.3");
  CHECK(refused.line() == "NO too many connections");
  CHECK(refused.line() == "<eof>");
  // Implicit TLS: closed before any handshake, without a word.
  client refused_tls(f.tls_port);
  CHECK(refused_tls.rest().empty());
  CHECK(sessions_created == sessions);
  CHECK(f.srv->open_connections().total == 2);

  a->close();
  a.reset();
  REQUIRE(f.wait_open(1, 1));
  client again(f.plain_port);
  CHECK(again.line() == "* OK ready");
  again.send("hi\r\n");
  CHECK(again.line() == "ECHO hi plain");
  CHECK(f.wait_open(2, 2));
}

TEST_CASE("max_connections_per_ip: refusal per address, other addresses still served") {
  idle_timeout_ms = 60000;
  fixture f([](server_options& o) {
    o.max_connections = 100;
    o.max_connections_per_ip = 2;
  });
  auto a = std::make_unique<client>(f.plain_port);
  client b(f.plain_port);
  CHECK(a->line() == "* OK ready");
  CHECK(b.line() == "* OK ready");
  {
    client refused(f.plain_port);
    CHECK(refused.line() == "NO too many connections from your address");
    CHECK(refused.line() == "<eof>");
  }
  client other(f.plain_port, "127.0.0.2");
  CHECK(other.line() == "* OK ready");
  CHECK(f.wait_open(3, 2));

  a->close();
  a.reset();
  REQUIRE(f.wait_open(2, 2));
  auto again = std::make_unique<client>(f.plain_port);
  CHECK(again->line() == "* OK ready");
  CHECK(f.wait_open(3, 2));

  // The session closing returns the count as the peer closing does.
  again->send("QUIT\r\n");
  CHECK(again->line() == "BYE");
  CHECK(again->line() == "<eof>");
  CHECK(f.wait_open(2, 2));
  b.close();
  other.close();
  CHECK(f.wait_open(0, 0));
}

TEST_CASE("an idle timeout returns the count to zero") {
  fixture f;
  client idle(f.plain_port);
  CHECK(idle.line() == "* OK ready");
  CHECK(idle.line() == "* BYE idle");
  CHECK(idle.line() == "<eof>");
  CHECK(f.wait_open(0, 0));
}

TEST_CASE("a stop returns the counts to zero") {
  idle_timeout_ms = 60000;
  fixture f;
  client a(f.plain_port);
  client b(f.tls_port, "127.0.0.2");
  b.start_tls();
  CHECK(a.line() == "* OK ready");
  CHECK(b.line() == "* OK ready");
  CHECK(f.wait_open(2, 2));
  f.srv->stop();
  CHECK(a.line() == "* BYE shutting down");
  CHECK(b.line() == "* BYE shutting down");
  CHECK(f.wait_open(0, 0));
}

TEST_CASE("max_connections_per_ip counts IPv6 addresses too") {
  if (!ipv6_loopback_available()) {
    WARN("no IPv6 loopback here; test skipped");
    return;
  }
  idle_timeout_ms = 60000;
  fixture f([](server_options& o) {
    o.max_connections_per_ip = 1;
    o.listeners.push_back(o.listeners.front());
    o.listeners.back().name = "v6";
    o.listeners.back().address = {"::1", 0};
  });
  auto a = std::make_unique<client>(f.ports["v6"], "::1", "::1");
  CHECK(a->line() == "* OK ready");
  {
    client refused(f.ports["v6"], "::1", "::1");
    CHECK(refused.line() == "NO too many connections from your address");
    CHECK(refused.line() == "<eof>");
  }
  client v4(f.plain_port);  // another address
  CHECK(v4.line() == "* OK ready");
  a->close();
  a.reset();
  REQUIRE(f.wait_open(1, 1));
  client again(f.ports["v6"], "::1", "::1");
  CHECK(again.line() == "* OK ready");
}

TEST_CASE("many refusals at once: counts stay exact") {
  idle_timeout_ms = 60000;
  fixture f([](server_options& o) {
    o.max_connections = 3;
    o.max_connections_per_ip = 0;
  });
  std::vector<std::unique_ptr<client>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<client>(f.plain_port));
    CHECK(held.back()->line() == "* OK ready");
  }
  // Clients racing from two threads while the held ones close.
  std::atomic<int> refused{0}, served{0};
  auto flood = [&] {
    for (int i = 0; i < 50; ++i) {
      client c(f.plain_port);
      const auto l = c.line();
      if (l == "NO too many connections") ++refused;
      if (l == "* OK ready") ++served;
    }
  };
  std::thread t1(flood), t2(flood);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (refused == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  held.clear();
  t1.join();
  t2.join();
  CHECK(refused + served == 100);
  CHECK(refused > 0);
  CHECK(f.wait_open(0, 0));
}

TEST_CASE("the admin listener has its own limit: 503 over it") {
  fixture f([](server_options& o) {
    o.admin = listen_address{"127.0.0.1", 0};
    o.max_admin_connections = 1;
    o.max_connections = 1;
  });
  client held(f.ports["admin"]);  // idle admin connection
  client c(f.plain_port);         // client limits are separate
  CHECK(c.line() == "* OK ready");
  // Accepted in order: the held connection is counted before this one.
  client refused(f.ports["admin"]);
  CHECK(refused.line() == "HTTP/1.1 503 Service Unavailable");
}

TEST_CASE("a delayed reply holds back that connection only") {
  fixture f;
  client slow(f.plain_port), other(f.plain_port);
  CHECK(slow.line() == "* OK ready");
  CHECK(other.line() == "* OK ready");
  const auto start = std::chrono::steady_clock::now();
  slow.send("DELAY\r\nafter\r\n");
  other.send("meanwhile\r\n");
  CHECK(other.line() == "ECHO meanwhile plain");
  CHECK(std::chrono::steady_clock::now() - start < 250ms);
  CHECK(slow.line() == "OK delayed");
  CHECK(std::chrono::steady_clock::now() - start >= 300ms);
  CHECK(slow.line() == "ECHO after plain");
}

TEST_CASE("a session that holds input is called again until it is done") {
  fixture f;
  client c(f.plain_port);
  CHECK(c.line() == "* OK ready");
  c.send("STEPS 3\r\nlast\r\n");
  CHECK(c.line() == "STEP 3");
  CHECK(c.line() == "STEP 2");
  CHECK(c.line() == "STEP 1");
  CHECK(c.line() == "ECHO last plain");
}

namespace {

// A blocking client on a unix-domain socket.
std::string unix_exchange(const std::filesystem::path& path, const std::string& input,
                          std::size_t lines) {
  asio::io_context io;
  asio::local::stream_protocol::socket socket(io);
  socket.connect(asio::local::stream_protocol::endpoint(path.string()));
  asio::write(socket, asio::buffer(input));
  std::string buffer, out;
  for (std::size_t i = 0; i < lines; ++i) {
    boost::system::error_code ec;
    const auto n = asio::read_until(socket, asio::dynamic_buffer(buffer), "\r\n", ec);
    if (ec) return out + "<eof>";
    out += buffer.substr(0, n);
    buffer.erase(0, n);
  }
  return out;
}

}  // namespace

TEST_CASE("a unix-socket listener serves sessions, replaces a stale socket, removes it on stop") {
  testing::temp_dir sockets;
  const auto path = sockets.path() / "lmtp.sock";
  {
    // A socket file nobody accepts on, as a killed server leaves it.
    asio::io_context io;
    asio::local::stream_protocol::acceptor stale(io);
    stale.open(asio::local::stream_protocol());
    stale.bind(asio::local::stream_protocol::endpoint(path.string()));
  }
  REQUIRE(std::filesystem::exists(path));
  {
    fixture f([&](server_options& o) { o.listeners.push_back(listener("local", false, path)); });
    CHECK(unix_exchange(path, "hi\r\n", 2) == "* OK ready\r\nECHO hi plain\r\n");
    CHECK(std::filesystem::status(path).permissions() ==
          (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
           std::filesystem::perms::group_read | std::filesystem::perms::group_write |
           std::filesystem::perms::others_read | std::filesystem::perms::others_write));
    // A second server on the same live socket is refused.
    server_options second;
    second.listeners.push_back(listener("local", false, path));
    const auto files = ensure_self_signed_certificate(f.dir.path());
    second.tls_cert = files.cert;
    second.tls_key = files.key;
    CHECK_THROWS_AS(server(std::move(second)), startup_error);
  }
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a unix-socket path that is not a socket is a startup error") {
  testing::temp_dir dir;
  const auto path = dir.path() / "plain-file";
  { std::ofstream(path) << "x"; }
  server_options o;
  o.listeners.push_back(listener("local", false, path));
  const auto files = ensure_self_signed_certificate(dir.path());
  o.tls_cert = files.cert;
  o.tls_key = files.key;
  CHECK_THROWS_WITH(server(std::move(o)), Catch::Contains("not a socket"));
}
