#include "net/server.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

#include "net/admin_http.h"

namespace packmail::server {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;
// A client connection's socket: TCP or a unix-domain socket.
using stream_socket = asio::generic::stream_protocol::socket;
using asio::awaitable;
using asio::use_awaitable;
using boost::system::error_code;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

// A TLS handshake must finish in this time.
constexpr auto k_handshake_timeout = std::chrono::seconds(30);
// A closing connection gets this long to send what is queued.
constexpr auto k_flush_timeout = std::chrono::seconds(10);
// Waiting for the peer's close_notify after ours.
constexpr auto k_tls_shutdown_timeout = std::chrono::seconds(2);
// After forcing connections closed, how long to wait before stopping the
// io_context regardless.
constexpr auto k_force_grace = std::chrono::seconds(2);
constexpr std::size_t k_read_buffer = 16 * 1024;
// Replies queued for a client beyond this: read no more input until they are
// sent, so a client that pipelines without reading cannot grow the queue.
constexpr std::size_t k_max_queued_output = 256 * 1024;
// At most one "refused connection" warning per interval; the next line counts
// the refusals left unlogged in between.
constexpr auto k_refusal_log_interval = std::chrono::seconds(10);
// Input a refused connection already sent, read and dropped before closing
// (unread input makes close() send RST, which may destroy the refusal at the
// peer before the client reads it).
constexpr std::size_t k_refusal_drain = 4096;

using strand_type = asio::strand<asio::io_context::executor_type>;

// Something the shutdown must stop: a client or admin connection.
class tracked {
 public:
  virtual ~tracked() = default;
  // Finish what is in flight, then close. Thread-safe.
  virtual void request_stop() = 0;
  // Close the socket now. Thread-safe.
  virtual void force_close() = 0;
};

// Waits until cancel() is called on the timer (a one-waiter condition signal;
// callers re-check their condition after every wake-up). The timer never
// expires by itself.
awaitable<void> wait_signal(asio::steady_timer& timer) {
  timer.expires_at(asio::steady_timer::time_point::max());
  co_await timer.async_wait(use_nothrow);
}

std::string endpoint_string(const tcp::endpoint& ep) {
  const auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

// The completion of a coroutine that should not throw: logs what escaped.
void log_failure(std::exception_ptr e, std::string_view what) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::error("{} failed: {}", what, x.what());
  }
}

// The address a client is counted under: an IPv4-mapped IPv6 address is the
// IPv4 client it stands for.
asio::ip::address client_address(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  }
  return a;
}

// Open connections in total and per address, against two limits (0 = none).
// Thread-safe: admission runs on the acceptors' strand, release wherever a
// connection ends. Must outlive every slot it hands out.
class connection_limits {
 public:
  // One admitted connection; releases its count when reset or destroyed,
  // whichever way the connection ends.
  class slot {
   public:
    slot() = default;
    slot(slot&& o) noexcept : limits_(std::exchange(o.limits_, nullptr)), address_(o.address_) {}
    slot& operator=(slot&& o) noexcept {
      if (this != &o) {
        reset();
        limits_ = std::exchange(o.limits_, nullptr);
        address_ = o.address_;
      }
      return *this;
    }
    slot(const slot&) = delete;
    slot& operator=(const slot&) = delete;
    ~slot() { reset(); }
    void reset() {
      if (auto* l = std::exchange(limits_, nullptr)) l->release(address_);
    }

   private:
    friend class connection_limits;
    slot(connection_limits* limits, const std::optional<asio::ip::address>& address)
        : limits_(limits), address_(address) {}
    connection_limits* limits_ = nullptr;
    std::optional<asio::ip::address> address_;
  };

  connection_limits(std::uint32_t max_total, std::uint32_t max_per_address)
      : max_total_(max_total), max_per_address_(max_per_address) {}

  // Counts a new connection from address into out, or answers the limit it
  // would exceed (and counts nothing).
  // Connections over a unix-domain socket (address nullopt) count in the total
  // only.
  std::optional<protocols::refusal_reason> admit(const std::optional<asio::ip::address>& address,
                                                 slot& out) {
    std::lock_guard lock(mutex_);
    if (max_total_ != 0 && total_ >= max_total_) {
      return protocols::refusal_reason::too_many_connections;
    }
    if (!address) {
      ++total_;
      out = slot(this, std::nullopt);
      return std::nullopt;
    }
    auto& count = per_address_[*address];
    if (max_per_address_ != 0 && count >= max_per_address_) {
      return protocols::refusal_reason::too_many_connections_from_address;
    }
    ++count;
    ++total_;
    out = slot(this, *address);
    return std::nullopt;
  }

  std::pair<std::size_t, std::size_t> counts() const {
    std::lock_guard lock(mutex_);
    return {total_, per_address_.size()};
  }

  std::uint32_t max_total() const { return max_total_; }
  std::uint32_t max_per_address() const { return max_per_address_; }

 private:
  void release(const std::optional<asio::ip::address>& address) {
    std::lock_guard lock(mutex_);
    if (!address) {
      if (total_ == 0) std::abort();  // released twice: a broken invariant
      --total_;
      return;
    }
    const auto it = per_address_.find(*address);
    // A slot released twice or never counted: a broken invariant.
    if (it == per_address_.end() || it->second == 0 || total_ == 0) std::abort();
    if (--it->second == 0) per_address_.erase(it);
    --total_;
  }

  const std::uint32_t max_total_;
  const std::uint32_t max_per_address_;
  mutable std::mutex mutex_;
  std::size_t total_ = 0;
  std::unordered_map<asio::ip::address, std::uint32_t> per_address_;
};

// Sends text (if any) on a just-accepted socket and closes it, without
// waiting for anything: a refused connection must cost almost nothing. The
// kernel's send buffer of a new socket is empty, so one short line always
// fits; if it does not (the peer already reset), the refusal is dropped.
template <class Socket>
void refuse_and_close(Socket& socket, std::string_view text) {
  error_code ec;
  socket.non_blocking(true, ec);
  if (!text.empty()) socket.send(asio::buffer(text.data(), text.size()), 0, ec);
  socket.shutdown(asio::socket_base::shutdown_send, ec);  // FIN after the refusal
  std::array<char, 1024> discard;
  for (std::size_t drained = 0; drained < k_refusal_drain; drained += discard.size()) {
    if (socket.receive(asio::buffer(discard), 0, ec) == 0 || ec) break;
  }
  socket.close(ec);
}

}  // namespace

struct server::impl {
  struct bound_listener {
    listener_options options;
    tcp::acceptor acceptor;                              // TCP listeners
    std::optional<unix_stream::acceptor> unix_acceptor;  // unix-socket listeners
  };

  explicit impl(server_options o)
      : options(std::move(o)),
        limits(options.max_connections, options.max_connections_per_ip),
        admin_limits(options.max_admin_connections, 0),
        pool(std::max<std::uint32_t>(1, options.session_threads)),
        io(static_cast<int>(std::max<std::uint32_t>(1, options.io_threads))),
        tls(ssl::context::tls_server),
        control(asio::make_strand(io)),
        signals(control, SIGINT, SIGTERM),
        drained(control) {}

  void load_tls();
  void bind_all();
  void bind(tcp::acceptor& acceptor, const listen_address& address, const std::string& name);
  void bind_unix(bound_listener& l);
  // Accepts client connections on a TCP or unix-socket acceptor of l.
  template <class Acceptor>
  awaitable<void> accept_loop(bound_listener& l, Acceptor& acceptor);
  awaitable<void> admin_accept_loop();
  void start_connection(bound_listener& l, stream_socket socket, protocols::connection_info info,
                        std::string peer, connection_limits::slot slot);
  void start_admin_connection(tcp::socket socket, connection_limits::slot slot);
  // Logs a refused connection, rate-limited. On control.
  void log_refusal(const std::string& listener, const std::string& peer,
                   protocols::refusal_reason reason, const connection_limits& by);
  // Registers a live connection; false when shutting down (drop it).
  bool add_live(std::uint64_t& id, std::shared_ptr<tracked> t);
  void remove_live(std::uint64_t id);
  void begin_shutdown();
  awaitable<void> shutdown();
  awaitable<void> wait_drained(std::chrono::steady_clock::time_point deadline);

  server_options options;
  // Declared before pool and io: connections destroyed with them release
  // their slots here.
  connection_limits limits;        // client connections
  connection_limits admin_limits;  // admin HTTP connections (no per-address limit)
  // The pool outlives the io_context: handlers destroyed with the io_context
  // may own connections whose session strands belong to the pool.
  asio::thread_pool pool;
  asio::io_context io;
  ssl::context tls;
  strand_type control;  // acceptors, signals and shutdown run here
  asio::signal_set signals;
  asio::steady_timer drained;
  std::vector<std::unique_ptr<bound_listener>> listeners;
  std::optional<tcp::acceptor> admin;
  bool shutdown_started = false;  // on control
  // Refusal logging, on control.
  std::optional<std::chrono::steady_clock::time_point> last_refusal_log;
  std::uint64_t unlogged_refusals = 0;

  std::mutex mutex;
  std::unordered_map<std::uint64_t, std::shared_ptr<tracked>> live;
  std::uint64_t next_id = 1;
  bool stopping = false;
};

namespace {

// One client connection: a reader (which drives the session), a writer
// draining the outgoing queue, and a waker delivering on_wake() output. All
// three run on the connection's strand; session calls hop to a strand on the
// session pool.
class connection final : public tracked, public std::enable_shared_from_this<connection> {
 public:
  connection(stream_socket socket, protocols::connection_info info, std::string peer,
             const listener_options& listener, ssl::context& tls, asio::thread_pool& pool,
             connection_limits::slot slot)
      : socket_(std::move(socket)),
        slot_(std::move(slot)),
        listener_(listener),
        tls_context_(tls),
        session_strand_(asio::make_strand(pool)),
        info_(std::move(info)),
        peer_(std::move(peer)),
        read_timer_(socket_.get_executor()),
        writer_signal_(socket_.get_executor()),
        flushed_signal_(socket_.get_executor()),
        wake_signal_(socket_.get_executor()) {
    info_.tls = listener.implicit_tls;
  }

  asio::any_io_executor executor() { return socket_.get_executor(); }
  const std::string& peer() const { return peer_; }
  // The connection ended (its socket is closed): it no longer counts against
  // the limits. On the connection's strand.
  void release_slot() { slot_.reset(); }

  awaitable<void> run() {
    spdlog::debug("{}: connection from {}", listener_.name, peer_);
    co_await (reader() || writer() || waker());
    co_await close();
    spdlog::debug("{}: connection from {} closed", listener_.name, peer_);
  }

  void request_stop() override {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      self->stopping_ = true;
      self->read_timer_.cancel();
    });
  }

  void force_close() override {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      self->stopping_ = true;
      self->forced_ = true;
      error_code ec;
      self->socket_.close(ec);
      self->read_timer_.cancel();
    });
  }

 private:
  struct call_result {
    protocols::output out;
    std::chrono::steady_clock::duration idle_timeout{};
  };

  // Runs f(session) on the session strand and resumes here with its output.
  // The session's idle timeout is read in the same call: the session is only
  // ever touched from its strand.
  template <class F>
  awaitable<call_result> call_session(F f) {
    // GCC 12 destroys a temporary with captures inside a co_await expression
    // twice (a shared_ptr released twice): keep such lambdas named.
    auto call = [self = shared_from_this(), f = std::move(f)]() -> awaitable<call_result> {
      call_result r;
      r.out = f(*self->session_);
      r.idle_timeout = self->session_->idle_timeout();
      co_return r;
    };
    call_result result = co_await asio::co_spawn(session_strand_, std::move(call), use_awaitable);
    co_return result;
  }

  bool create_session() {
    std::weak_ptr<connection> weak = shared_from_this();
    auto executor = socket_.get_executor();
    protocols::wake_function wake = [weak, executor] {
      asio::post(executor, [weak] {
        if (auto self = weak.lock()) {
          self->wake_pending_ = true;
          self->wake_signal_.cancel();
        }
      });
    };
    session_ = listener_.factory(info_, std::move(wake));
    return session_ != nullptr;
  }

  template <class Op>
  awaitable<error_code> with_deadline(Op op, std::chrono::steady_clock::duration timeout) {
    read_timer_.expires_after(timeout);
    auto r = co_await (std::move(op) || read_timer_.async_wait(use_nothrow));
    if (r.index() == 0) co_return std::get<0>(std::get<0>(r));
    co_return asio::error::timed_out;
  }

  awaitable<bool> handshake() {
    tls_.emplace(socket_, tls_context_);
    handshaking_ = true;
    const auto ec = co_await with_deadline(
        tls_->async_handshake(ssl::stream_base::server, use_nothrow), k_handshake_timeout);
    handshaking_ = false;
    writer_signal_.cancel();
    if (ec) {
      spdlog::debug("{}: TLS handshake with {} failed: {}", listener_.name, peer_, ec.message());
      co_return false;
    }
    tls_up_ = true;
    co_return true;
  }

  // Queues the output and performs what it asks. False when the connection
  // should end.
  awaitable<bool> apply(protocols::output out, bool from_reader) {
    // Nothing goes out after a closing reply (the waker's call may have been
    // in flight when the reader's call asked to close, or the reverse).
    if (closing_) co_return false;
    if (out.delay.count() > 0 && from_reader && !stopping_) {
      // A failed login's penalty: this connection waits, no other does. A
      // shutdown (request_stop cancels the timer) cuts it short.
      read_timer_.expires_after(out.delay);
      co_await read_timer_.async_wait(use_nothrow);
    }
    if (!out.bytes.empty() && !write_failed_) {
      queued_bytes_ += out.bytes.size();
      out_queue_.push_back(std::move(out.bytes));
      writer_signal_.cancel();
    }
    if (out.start_tls && !out.close) {
      if (!from_reader || tls_) {
        spdlog::error("{}: session asked for STARTTLS {}; closing {}", listener_.name,
                      tls_ ? "on an encrypted connection" : "outside a command", peer_);
        co_return false;
      }
      co_await flush();  // the reply goes out in clear text, then the handshake
      if (write_failed_) co_return false;
      // (GCC 12 miscompiles co_await inside && / || / ?:, so none is used.)
      const bool handshaken = co_await handshake();
      if (!handshaken) co_return false;
      info_.tls = true;
      co_await call_session([](protocols::session& s) {
        s.on_tls_started();
        return protocols::output{};
      });
    }
    if (out.close) {
      closing_ = true;
      read_timer_.cancel();  // wakes the reader if the waker asked to close
      co_return false;
    }
    co_return !write_failed_;
  }

  awaitable<void> flush() {
    while ((!out_queue_.empty() || writing_) && !write_failed_) {
      co_await wait_signal(flushed_signal_);
      const auto state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() != asio::cancellation_type::none) {
        co_return;  // the flush deadline passed
      }
    }
  }

  awaitable<void> reader() {
    try {
      if (!create_session()) {
        spdlog::error("{}: no session for {}", listener_.name, peer_);
        co_return;
      }
      if (listener_.implicit_tls) {
        const bool handshaken = co_await handshake();
        if (!handshaken) co_return;
      }
      auto r = co_await call_session([](protocols::session& s) { return s.greeting(); });
      idle_timeout_ = r.idle_timeout;
      greeted_ = true;
      bool go_on = co_await apply(std::move(r.out), true);

      std::vector<char> buf(k_read_buffer);
      while (go_on && !closing_ && !stopping_ && !write_failed_) {
        read_timer_.expires_after(idle_timeout_);
        // Both streams' reads have the same awaitable type; the one in use
        // races the deadline.
        auto read_op = tls_ ? tls_->async_read_some(asio::buffer(buf), use_nothrow)
                            : socket_.async_read_some(asio::buffer(buf), use_nothrow);
        auto read = co_await (std::move(read_op) || read_timer_.async_wait(use_nothrow));
        if (read.index() == 0) {
          const auto [ec, n] = std::get<0>(read);
          if (ec) {
            if (ec != asio::error::eof && ec != ssl::error::stream_truncated) {
              spdlog::debug("{}: read from {}: {}", listener_.name, peer_, ec.message());
            }
            break;  // a half-closed peer may still read what is queued
          }
          const std::string_view bytes(buf.data(), n);
          r = co_await call_session([bytes](protocols::session& s) { return s.on_input(bytes); });
        } else {
          const auto [ec] = std::get<1>(read);
          if (ec || stopping_ || closing_) break;  // cancelled: stop or close requested
          r = co_await call_session([](protocols::session& s) { return s.on_idle_timeout(); });
        }
        idle_timeout_ = r.idle_timeout;
        bool more = r.out.more;
        go_on = co_await apply(std::move(r.out), true);
        // Flow control: while the session holds unprocessed commands (its
        // pipelining limit) or the client leaves replies unread, send what is
        // queued before anything else; a client that reads nothing for the
        // idle timeout is closed.
        while (go_on && !closing_ && !stopping_ && !write_failed_ &&
               (more || queued_bytes_ > k_max_queued_output)) {
          read_timer_.expires_after(idle_timeout_);
          co_await (flush() || read_timer_.async_wait(use_nothrow));
          if (stopping_) break;
          const bool drained = out_queue_.empty() && !writing_;
          if (!drained) {
            spdlog::debug("{}: {} reads no replies; closing", listener_.name, peer_);
            go_on = false;
            break;
          }
          if (!more) break;
          r = co_await call_session([](protocols::session& s) { return s.on_input({}); });
          idle_timeout_ = r.idle_timeout;
          more = r.out.more;
          go_on = co_await apply(std::move(r.out), true);
        }
      }
      // The server is stopping and the connection is still up: the session
      // says goodbye. (The condition is computed apart from the co_await: GCC
      // 12 miscompiles co_await inside && / ||.)
      const bool say_goodbye =
          stopping_ && !forced_ && greeted_ && !closing_ && !write_failed_ && socket_.is_open();
      if (say_goodbye) {
        auto goodbye = [](protocols::session& s) { return s.on_shutdown(); };
        auto bye = co_await call_session(std::move(goodbye));
        bye.out.close = true;
        bye.out.start_tls = false;
        co_await apply(std::move(bye.out), false);
      }
      // Let what is queued (a BYE, a last reply) go out before closing.
      read_timer_.expires_after(k_flush_timeout);
      co_await (flush() || read_timer_.async_wait(use_nothrow));
    } catch (const std::exception& e) {
      spdlog::error("{}: connection from {}: {}", listener_.name, peer_, e.what());
    }
  }

  // Ends only when cancelled (the reader finished): a failed write marks the
  // connection and keeps draining nothing, so the reader is the one exit.
  awaitable<void> writer() try {
    for (;;) {
      while (out_queue_.empty() || handshaking_ || write_failed_) {
        flushed_signal_.cancel();
        co_await wait_signal(writer_signal_);
        const auto state = co_await asio::this_coro::cancellation_state;
        if (state.cancelled() != asio::cancellation_type::none) co_return;
      }
      writing_ = true;
      std::string data = std::move(out_queue_.front());
      out_queue_.pop_front();
      queued_bytes_ -= data.size();
      error_code ec;
      if (tls_) {
        std::tie(ec, std::ignore) =
            co_await asio::async_write(*tls_, asio::buffer(data), use_nothrow);
      } else {
        std::tie(ec, std::ignore) =
            co_await asio::async_write(socket_, asio::buffer(data), use_nothrow);
      }
      writing_ = false;
      if (ec) {
        spdlog::debug("{}: write to {}: {}", listener_.name, peer_, ec.message());
        write_failed_ = true;
        out_queue_.clear();
        queued_bytes_ = 0;
        read_timer_.cancel();
        error_code ignored;
        socket_.cancel(ignored);  // the reader's pending read
      }
    }
  } catch (const boost::system::system_error&) {
    // Cancelled by the reader's end (Asio throws on operations started after
    // cancellation).
  }

  awaitable<void> waker() try {
    for (;;) {
      while (!wake_pending_) {
        co_await wait_signal(wake_signal_);
        const auto state = co_await asio::this_coro::cancellation_state;
        if (state.cancelled() != asio::cancellation_type::none) co_return;
      }
      wake_pending_ = false;
      if (closing_ || write_failed_ || !session_) continue;
      protocols::output out;
      try {
        auto r = co_await call_session([](protocols::session& s) { return s.on_wake(); });
        idle_timeout_ = r.idle_timeout;
        out = std::move(r.out);
      } catch (const boost::system::system_error&) {
        throw;
      } catch (const std::exception& e) {
        spdlog::error("{}: connection from {}: on_wake: {}", listener_.name, peer_, e.what());
        out.close = true;
      }
      out.start_tls = false;  // only in reply to a command, handled by the reader
      co_await apply(std::move(out), false);
    }
  } catch (const boost::system::system_error&) {
    // Cancelled by the reader's end.
  }

  awaitable<void> close() {
    error_code ec;
    if (tls_ && tls_up_ && !write_failed_ && socket_.is_open()) {
      read_timer_.expires_after(k_tls_shutdown_timeout);
      co_await (tls_->async_shutdown(use_nothrow) || read_timer_.async_wait(use_nothrow));
    }
    socket_.shutdown(asio::socket_base::shutdown_both, ec);
    socket_.close(ec);
    // Destroy the session on its strand: nothing else may be running in it.
    auto destroy = [self = shared_from_this()]() -> awaitable<void> {
      self->session_.reset();
      co_return;
    };
    co_await asio::co_spawn(session_strand_, std::move(destroy), use_awaitable);
  }

  stream_socket socket_;
  connection_limits::slot slot_;
  const listener_options& listener_;
  ssl::context& tls_context_;
  asio::strand<asio::thread_pool::executor_type> session_strand_;
  std::optional<ssl::stream<stream_socket&>> tls_;
  std::unique_ptr<protocols::session> session_;
  protocols::connection_info info_;
  std::string peer_;
  std::chrono::steady_clock::duration idle_timeout_ = std::chrono::seconds(30);

  // All below only on the connection's strand.
  asio::steady_timer read_timer_;      // the read/handshake deadline; cancel() interrupts it
  asio::steady_timer writer_signal_;   // queue grew or handshake finished
  asio::steady_timer flushed_signal_;  // the writer went idle
  asio::steady_timer wake_signal_;     // wake_pending_ was set
  std::deque<std::string> out_queue_;
  std::size_t queued_bytes_ = 0;  // in out_queue_
  bool writing_ = false;
  bool handshaking_ = false;
  bool tls_up_ = false;
  bool write_failed_ = false;
  bool closing_ = false;
  bool stopping_ = false;
  bool forced_ = false;   // force_close() was called
  bool greeted_ = false;  // the session's greeting was produced
  bool wake_pending_ = false;
};

class admin_connection final : public tracked,
                               public std::enable_shared_from_this<admin_connection> {
 public:
  admin_connection(tcp::socket socket, connection_limits::slot slot)
      : socket_(std::move(socket)), slot_(std::move(slot)) {}
  tcp::socket& socket() { return socket_; }
  void release_slot() { slot_.reset(); }
  // An admin request is short: stopping it means closing it.
  void request_stop() override { force_close(); }
  void force_close() override {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      error_code ec;
      self->socket_.close(ec);
    });
  }

 private:
  tcp::socket socket_;
  connection_limits::slot slot_;
};

}  // namespace

void server::impl::load_tls() {
  tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::single_dh_use);
  error_code ec;
  tls.use_certificate_chain_file(options.tls_cert.string(), ec);
  if (ec) {
    throw startup_error("cannot load TLS certificate " + options.tls_cert.string() + ": " +
                        ec.message());
  }
  tls.use_private_key_file(options.tls_key.string(), ssl::context::pem, ec);
  if (ec) {
    throw startup_error("cannot load TLS key " + options.tls_key.string() + ": " + ec.message());
  }
}

void server::impl::bind(tcp::acceptor& acceptor, const listen_address& address,
                        const std::string& name) {
  auto fail = [&](const error_code& ec) {
    return startup_error("cannot listen on " + address.to_string() + " (" + name +
                         "): " + ec.message());
  };
  error_code ec;
  const auto ip = asio::ip::make_address(address.host, ec);
  if (ec) throw fail(ec);
  const tcp::endpoint endpoint(ip, address.port);
  acceptor.open(endpoint.protocol(), ec);
  if (ec) throw fail(ec);
  // Restarting must not wait for TIME_WAIT connections of the last run.
  acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (ip.is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
  acceptor.bind(endpoint, ec);
  if (ec) throw fail(ec);
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw fail(ec);
}

void server::impl::bind_unix(bound_listener& l) {
  const std::string path = l.options.unix_path.string();
  auto fail = [&](const std::string& why) {
    return startup_error("cannot listen on " + path + " (" + l.options.name + "): " + why);
  };
  // A socket file left by a packmaild that did not stop cleanly is replaced;
  // one somebody still accepts on is not.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) throw fail("the path exists and is not a socket");
    unix_stream::socket probe(control);
    error_code ec;
    probe.connect(unix_stream::endpoint(path), ec);
    if (!ec) throw fail("another process is listening on it");
    std::filesystem::remove(l.options.unix_path, ec);
  }
  l.unix_acceptor.emplace(control);
  error_code ec;
  l.unix_acceptor->open(unix_stream(), ec);
  if (!ec) l.unix_acceptor->bind(unix_stream::endpoint(path), ec);
  if (ec) throw fail(ec.message());
  // Local MTAs run as other users (postfix); who may deliver is the file
  // system's business, like Dovecot's lmtp socket (mode 0666).
  std::filesystem::permissions(l.options.unix_path, l.options.unix_mode,
                               std::filesystem::perm_options::replace, ec);
  l.unix_acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw fail(ec.message());
}

void server::impl::bind_all() {
  for (auto& l : options.listeners) {
    auto bound =
        std::make_unique<bound_listener>(bound_listener{l, tcp::acceptor(control), std::nullopt});
    if (l.unix_path.empty()) {
      bind(bound->acceptor, l.address, l.name);
    } else {
      bind_unix(*bound);
    }
    listeners.push_back(std::move(bound));
  }
  if (options.admin) {
    admin.emplace(control);
    bind(*admin, *options.admin, "admin");
  }
}

bool server::impl::add_live(std::uint64_t& id, std::shared_ptr<tracked> t) {
  std::lock_guard lock(mutex);
  if (stopping) return false;
  id = next_id++;
  live.emplace(id, std::move(t));
  return true;
}

void server::impl::remove_live(std::uint64_t id) {
  std::lock_guard lock(mutex);
  live.erase(id);
  if (stopping && live.empty()) asio::post(control, [this] { drained.cancel(); });
}

void server::impl::log_refusal(const std::string& listener, const std::string& peer,
                               protocols::refusal_reason reason, const connection_limits& by) {
  const auto now = std::chrono::steady_clock::now();
  if (last_refusal_log && now - *last_refusal_log < k_refusal_log_interval) {
    ++unlogged_refusals;
    return;
  }
  const bool per_address = reason == protocols::refusal_reason::too_many_connections_from_address;
  std::string unlogged;
  if (unlogged_refusals != 0) {
    unlogged =
        " (and " + std::to_string(unlogged_refusals) + " more refused in the last " +
        std::to_string(
            std::chrono::duration_cast<std::chrono::seconds>(now - *last_refusal_log).count()) +
        " s)";
  }
  spdlog::warn("{}: refused connection from {}: {} (limit {}){}", listener, peer,
               per_address ? "too many connections from this address" : "too many connections",
               per_address ? by.max_per_address() : by.max_total(), unlogged);
  last_refusal_log = now;
  unlogged_refusals = 0;
}

namespace {

// What the accept loop needs to know of a new client connection.
struct accepted_peer {
  std::optional<asio::ip::address> counted_as;  // nullopt: a unix socket (total limit only)
  protocols::connection_info info;
  std::string name;  // for logs: "127.0.0.1:50123", "unix:/path"
  asio::generic::stream_protocol protocol;
};

accepted_peer describe(const tcp::endpoint& peer, const listener_options&) {
  const auto address = client_address(peer.address());
  accepted_peer a{address,
                  {},
                  endpoint_string(tcp::endpoint(address, peer.port())),
                  asio::generic::stream_protocol(peer.protocol().family(), IPPROTO_TCP)};
  a.info.remote_address = address.to_string();
  a.info.remote_port = peer.port();
  a.info.loopback = address.is_loopback();
  return a;
}

accepted_peer describe(const unix_stream::endpoint&, const listener_options& l) {
  accepted_peer a{
      std::nullopt, {}, "unix:" + l.unix_path.string(), asio::generic::stream_protocol(AF_UNIX, 0)};
  a.info.remote_address = "unix";
  a.info.loopback = true;  // the peer is on this machine
  return a;
}

}  // namespace

template <class Acceptor>
awaitable<void> server::impl::accept_loop(bound_listener& l, Acceptor& acceptor) {
  for (;;) {
    typename Acceptor::protocol_type::socket socket(asio::make_strand(io));
    typename Acceptor::endpoint_type endpoint;
    auto [ec] = co_await acceptor.async_accept(socket, endpoint, use_nothrow);
    if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors and the like: back off instead of spinning.
      spdlog::warn("{}: accept failed: {}", l.options.name, ec.message());
      asio::steady_timer pause(control, std::chrono::milliseconds(100));
      co_await pause.async_wait(use_nothrow);
      continue;
    }
    accepted_peer peer = describe(endpoint, l.options);
    connection_limits::slot slot;
    if (const auto refused = limits.admit(peer.counted_as, slot)) {
      // Before any session, handshake or session-thread work. Implicit TLS
      // listeners close without a handshake: it is what a flood would cost.
      std::string text;
      if (!l.options.implicit_tls && l.options.refusal) text = l.options.refusal(*refused);
      refuse_and_close(socket, text);
      log_refusal(l.options.name, peer.name, *refused, limits);
      continue;
    }
    auto executor = socket.get_executor();
    const auto native = socket.release(ec);
    if (ec) continue;  // the slot is released, the socket gone
    start_connection(l, stream_socket(executor, peer.protocol, native), std::move(peer.info),
                     std::move(peer.name), std::move(slot));
  }
}

void server::impl::start_connection(bound_listener& l, stream_socket socket,
                                    protocols::connection_info info, std::string peer,
                                    connection_limits::slot slot) {
  auto conn = std::make_shared<connection>(std::move(socket), std::move(info), std::move(peer),
                                           l.options, tls, pool, std::move(slot));
  std::uint64_t id = 0;
  if (!add_live(id, conn)) return;  // shutting down: the socket closes here
  auto executor = conn->executor();
  asio::co_spawn(executor, conn->run(), [this, id, conn](std::exception_ptr e) {
    log_failure(e, "connection from " + conn->peer());
    // run() closed the socket (or threw, and the socket closes with conn).
    conn->release_slot();
    remove_live(id);
  });
}

awaitable<void> server::impl::admin_accept_loop() {
  for (;;) {
    tcp::socket socket(asio::make_strand(io));
    tcp::endpoint peer;
    auto [ec] = co_await admin->async_accept(socket, peer, use_nothrow);
    if (!admin->is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      spdlog::warn("admin: accept failed: {}", ec.message());
      asio::steady_timer pause(control, std::chrono::milliseconds(100));
      co_await pause.async_wait(use_nothrow);
      continue;
    }
    connection_limits::slot slot;
    const auto refused = admin_limits.admit(client_address(peer.address()), slot);
    if (refused) {
      refuse_and_close(socket, detail::admin_refusal());
      log_refusal("admin", endpoint_string(peer), *refused, admin_limits);
      continue;
    }
    start_admin_connection(std::move(socket), std::move(slot));
  }
}

void server::impl::start_admin_connection(tcp::socket socket, connection_limits::slot slot) {
  auto conn = std::make_shared<admin_connection>(std::move(socket), std::move(slot));
  std::uint64_t id = 0;
  if (!add_live(id, conn)) return;
  auto executor = conn->socket().get_executor();
  auto context = std::make_shared<detail::admin_context>(detail::admin_context{
      options.version, options.user_count, [this] { return limits.counts().first; },
      pool.get_executor(), options.api, options.api_token});
  asio::co_spawn(
      executor,
      [conn, context]() -> awaitable<void> {
        co_await detail::serve_admin_connection(conn->socket(), *context);
      },
      [this, id, conn](std::exception_ptr e) {
        log_failure(e, "admin connection");
        // Closes the socket if the client left it open (the admin loop
        // returns without closing).
        error_code ignored;
        conn->socket().close(ignored);
        conn->release_slot();
        remove_live(id);
      });
}

void server::impl::begin_shutdown() {
  if (shutdown_started) return;
  shutdown_started = true;
  asio::co_spawn(control, shutdown(), [](std::exception_ptr e) { log_failure(e, "shutdown"); });
}

awaitable<void> server::impl::wait_drained(std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    {
      std::lock_guard lock(mutex);
      if (live.empty()) co_return;
    }
    if (std::chrono::steady_clock::now() >= deadline) co_return;
    drained.expires_at(deadline);
    co_await drained.async_wait(use_nothrow);
  }
}

awaitable<void> server::impl::shutdown() {
  error_code ec;
  signals.cancel(ec);
  for (auto& l : listeners) {
    l->acceptor.close(ec);
    if (l->unix_acceptor) {
      l->unix_acceptor->close(ec);
      std::filesystem::remove(l->options.unix_path, ec);
    }
  }
  if (admin) admin->close(ec);

  std::vector<std::shared_ptr<tracked>> to_stop;
  {
    std::lock_guard lock(mutex);
    stopping = true;
    for (auto& [id, t] : live) to_stop.push_back(t);
  }
  spdlog::info("shutting down: stopped accepting; closing {} connections", to_stop.size());
  for (auto& t : to_stop) t->request_stop();
  co_await wait_drained(std::chrono::steady_clock::now() + options.shutdown_timeout);

  to_stop.clear();
  {
    std::lock_guard lock(mutex);
    for (auto& [id, t] : live) to_stop.push_back(t);
  }
  if (!to_stop.empty()) {
    spdlog::warn("shutdown: {} connections still open after {} ms; closing them by force",
                 to_stop.size(), options.shutdown_timeout.count());
    for (auto& t : to_stop) t->force_close();
    co_await wait_drained(std::chrono::steady_clock::now() + k_force_grace);
    std::lock_guard lock(mutex);
    if (!live.empty()) {
      spdlog::error("shutdown: {} connections did not close; stopping anyway", live.size());
      io.stop();
    }
  }
}

server::server(server_options options) : impl_(std::make_unique<impl>(std::move(options))) {
  impl_->load_tls();
  impl_->bind_all();
}

server::~server() = default;

std::vector<std::pair<std::string, std::string>> server::bound_addresses() const {
  std::vector<std::pair<std::string, std::string>> out;
  error_code ec;
  for (const auto& l : impl_->listeners) {
    if (l->unix_acceptor) {
      out.emplace_back(l->options.name, l->options.unix_path.string());
    } else {
      out.emplace_back(l->options.name, endpoint_string(l->acceptor.local_endpoint(ec)));
    }
  }
  if (impl_->admin) out.emplace_back("admin", endpoint_string(impl_->admin->local_endpoint(ec)));
  return out;
}

server::connection_counts server::open_connections() const {
  const auto [total, addresses] = impl_->limits.counts();
  return {total, addresses};
}

void server::stop() {
  asio::post(impl_->control, [i = impl_.get()] { i->begin_shutdown(); });
}

void server::run() {
  auto& s = *impl_;
  auto log_end = [](const char* what) {
    return [what](std::exception_ptr e) { log_failure(e, what); };
  };
  for (auto& l : s.listeners) {
    if (l->unix_acceptor) {
      asio::co_spawn(s.control, s.accept_loop(*l, *l->unix_acceptor), log_end("accept loop"));
    } else {
      asio::co_spawn(s.control, s.accept_loop(*l, l->acceptor), log_end("accept loop"));
    }
  }
  if (s.admin) asio::co_spawn(s.control, s.admin_accept_loop(), log_end("admin accept loop"));
  s.signals.async_wait([&s](const error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("received {}", signal == SIGTERM ? "SIGTERM" : "SIGINT");
    s.begin_shutdown();
  });
  // The signal_set's handlers are installed (since construction): a signal
  // the program blocked during start-up, and still pending, is delivered now
  // and queued for the wait above. Threads started below inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);

  std::vector<std::thread> threads;
  for (std::uint32_t i = 1; i < s.options.io_threads; ++i) {
    threads.emplace_back([&s] { s.io.run(); });
  }
  s.io.run();
  for (auto& t : threads) t.join();
  // Session calls still running finish here; nothing new is queued.
  s.pool.join();
}

}  // namespace packmail::server
