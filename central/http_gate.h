// GatedServer: cpp-httplib's Server with a gate in front of its workers.
//
// Stock cpp-httplib 0.11 gives each connection a worker thread for its whole
// life and waits up to 5 s per read, so a few dozen clients that send a
// request slowly (slowloris, slow bodies) or keep idle connections open hold
// every worker and /healthz waits. Here a worker only takes a connection
// once a whole request has arrived, header and body. Until then the
// connection waits in one epoll thread (the gate) that reads what has
// arrived into the connection's buffer. A waiting request must be complete
// within `request_timeout` of its first byte, plus one second for every
// `min_body_rate` bytes its Content-Length declares (else 408 and close);
// a body over `max_body_bytes` gets 413 at once; an idle keep-alive
// connection is closed after `idle_timeout`; headers over
// `max_header_bytes` get 431 (414 when the request line alone is that
// long). Bounds on what waiting costs: at `max_connections` waiting
// connections the one nearest its deadline is dropped; one source address
// may hold `max_connections_per_address` connections (more are refused at
// accept, 503 on plain HTTP); the bytes read ahead for all waiting
// connections together stay under `max_buffered_bytes` (the connection
// that would pass it gets 503).
//
// Framing the gate settles before a worker sees it (http_framing.h): a
// header block with a bare LF or CR gets 400 and is closed, so the gate and
// cpp-httplib agree on where every request ends (RFC 9112 section 2.2);
// and (section 6.3) a POST, PUT or PATCH with neither Content-Length nor Transfer-Encoding
// has a zero-length body (the gate adds "Content-Length: 0", since
// cpp-httplib would wait for the client to close); one with
// Transfer-Encoding goes to the worker at once, which refuses it.
//
// With TLS (EnableTls) the gate also terminates TLS: a new connection's
// handshake runs in the gate, non-blocking, under the same request_timeout
// (a slow or stalled handshake counts as a slow request and is closed),
// and the gate reads the decrypted request into the connection's buffer
// instead of peeking at the socket. Workers then read the rest of the
// request and write the reply through OpenSSL. TLS 1.2 is the oldest
// version accepted, with forward-secret AEAD suites only.
//
// Routing, handlers and HTTP parsing stay cpp-httplib's: this class replaces
// only process_and_close_socket() (a virtual of httplib::Server) and runs
// each request through the protected process_request().
//
// Thread-safe. Shutdown() after listen_after_bind() has returned.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>

#include "common/limits.h"
#include "common/mutex.h"
#include "common/status.h"

namespace p2pshare::central {

struct GateOptions {
  size_t threads = 64;                                  // workers
  std::chrono::milliseconds request_timeout{10000};     // first byte to whole request
  std::chrono::milliseconds idle_timeout{30000};        // keep-alive connection, no request
  size_t max_header_bytes = 32 * 1024;                  // request line + headers
  size_t max_body_bytes = 1024 * 1024;                  // 413 above
  int64_t min_body_rate = 16 * 1024;                    // bytes/s a body may take beyond request_timeout
  size_t max_connections = 10000;                       // waiting at the gate
  size_t max_connections_per_address = 256;             // open, waiting or served
  size_t max_buffered_bytes = size_t{256} << 20;        // read ahead, all waiting connections
  // Streams (long-lived replies, AdoptAsStream): a line is sent to each
  // every `stream_ping` so balancers and routers keep it open; each ends
  // (cleanly) after `stream_lifetime`, so its client asks again and is
  // authenticated again; one whose client reads too slowly to take
  // `max_stream_backlog` bytes is closed; at `max_streams` more are refused.
  std::chrono::milliseconds stream_ping{15000};
  std::chrono::milliseconds stream_lifetime{300000};
  size_t max_stream_backlog = 64 * 1024;
  size_t max_streams = 10000;
  // Balancers whose connections start with a PROXY v2 header naming the
  // client (proxy_protocol.h): IP addresses as inet_ntop writes them.
  std::set<std::string> trusted_proxies;
};

struct Connection;  // one client connection (central/http_connection.h)

struct GateStats {
  int64_t waiting = 0;      // connections at the gate now
  int64_t timed_out = 0;    // requests cut off by request_timeout (408)
  int64_t too_large = 0;    // headers over the limit (431/414)
  int64_t evicted = 0;      // dropped at max_connections
  int64_t refused = 0;      // refused: per-address connections or buffered bytes over the limit
  int64_t buffered_bytes = 0;  // read ahead for waiting connections now
  int64_t streams = 0;         // long-lived replies open now
};

class GatedServer : public httplib::Server {
 public:
  explicit GatedServer(GateOptions options);
  ~GatedServer() override;

  // Serves HTTPS from now on with this key and certificate chain (PEM: the
  // server's certificate first). Call before listening. Internal when
  // OpenSSL refuses them.
  Status EnableTls(const std::string& key_pem, const std::string& chain_pem);
  bool tls() const { return ssl_ctx_ != nullptr; }

  // Raises the listen backlog (cpp-httplib's is 5) once bound.
  void RaiseBacklog();

  // Runs the raw bytes of one or more requests through the routes without
  // a socket and returns the bytes that would be sent back (fuzzing, tests).
  std::string ServeBuffer(const std::string& raw);

  // Closes waiting connections, cuts off requests still being read, and
  // joins the workers. Idempotent.
  void Shutdown();

  GateStats stats() const;

  // For handlers: close the connection once this reply is sent (the
  // request's framing cannot be trusted). cpp-httplib 0.11 keeps it open
  // even when the reply says "Connection: close".
  static void CloseAfterReply();
  // For a handler whose reply is a stream (central's channel to a peer,
  // docs/protocol.md): it sets a chunked content provider that writes the
  // first line, calls this with the stream's key and returns false. The
  // connection then leaves the worker for the gate, which keeps it open
  // without a thread, and Publish(key, ...) sends on it. A newer stream of
  // the same key closes the older one.
  static void AdoptAsStream(std::string key);
  // Sends `line` (one line, without its newline) on the stream of `key`:
  // false when this server holds none.
  bool Publish(const std::string& key, const std::string& line);
  // True while a stream can still be taken (under max_streams).
  bool StreamsAvailable() const;
  // When the request being served on this thread began.
  static std::chrono::steady_clock::time_point RequestStart();

 private:
  using Clock = std::chrono::steady_clock;
  enum class Arrival { kComplete, kIncomplete, kClosed, kHeaderTooLarge, kUriTooLong, kBodyTooLarge, kBareLineEnd };
  struct Peeked {
    Arrival arrival = Arrival::kIncomplete;
    size_t bytes = 0;             // bytes available so far
    uint64_t content_length = 0;  // of a complete header
  };
  struct Waiting {
    std::unique_ptr<Connection> conn;
    Clock::time_point started_at;  // when its request (or TLS handshake) began
    Clock::time_point deadline;
    bool started = false;  // part of a request (or a TLS handshake) has arrived
    uint64_t drain = 0;    // bytes of a refused body still to read and drop
  };
  // When a request begun at `started_at`, with a body of `content_length`,
  // must have arrived.
  Clock::time_point RequestDeadline(Clock::time_point started_at, uint64_t content_length) const;

  bool process_and_close_socket(socket_t sock) override;
  bool ServeOne(httplib::Stream& strm);

  // Serves complete requests on `conn` (a worker), then parks or closes it.
  // `fresh`: just accepted, no request served yet.
  void Serve(std::unique_ptr<Connection> conn, bool fresh);
  // Reads what has arrived on `conn` (TLS: handshakes first) into its
  // buffer, then says how much of a request is there.
  Peeked Arrived(Connection& conn) const;
  // Hands `conn` to the gate (`started`: a request is due, so it gets
  // request_timeout); false when shutting down (the caller closes).
  bool Park(std::unique_ptr<Connection>& conn, bool started);
  // Park's work; `drain` > 0: the connection only
  // waits for that many bytes to drop (its answer has been sent).
  bool ParkLocked(std::unique_ptr<Connection>& conn, bool started, uint64_t drain) REQUIRES(mu_);
  // Answers 413 for a body over max_body_bytes. A body
  // up to 8x the limit is then read and dropped at the gate (bounded by
  // its deadline), so a client still sending it reads the answer instead
  // of a reset; a larger one is cut off at once.
  void RefuseBody(std::unique_ptr<Connection> conn, uint64_t content_length) REQUIRES(mu_);
  // Reads and drops what has arrived for a refusing
  // connection; closes it once the body is drained or the client is gone.
  void Drain(int fd, Waiting& w) REQUIRES(mu_);
  // One long-lived reply, held by the gate.
  struct Stream {
    std::unique_ptr<Connection> conn;
    std::string key;
    std::string outbox;  // chunks not yet taken by the socket
    Clock::time_point ends;
    Clock::time_point next_ping;
  };
  void AdoptStream(std::unique_ptr<Connection> conn, std::string key);
  // Writes what the socket takes of `s`'s outbox; false when the stream
  // must close (the client is gone or reads too slowly).
  bool FlushStream(Stream& s) REQUIRES(mu_);
  // Adds one line (as a chunk) to `fd`'s stream and sends what it can.
  void SendOnStream(int fd, const std::string& line) REQUIRES(mu_);
  void DropStream(int fd) REQUIRES(mu_);
  void OnStreamEvent(int fd, uint32_t events) REQUIRES(mu_);
  // Pings streams that are due and ends those past their lifetime.
  void TendStreams(Clock::time_point now);
  void GateLoop();
  void OnReadable(int fd);
  void ExpireWaiting(Clock::time_point now);
  // Takes `fd` out of the gate; its connection, if any.
  std::unique_ptr<Connection> ForgetWaiting(int fd) REQUIRES(mu_);
  void Reject(Connection& conn, Arrival why);
  // Moves `fd`'s deadline to `deadline`.
  void MoveDeadline(int fd, Waiting& w, Clock::time_point deadline) REQUIRES(mu_);

  const GateOptions options_;
  // Connections by source address; each Connection holds a slot, so this
  // outlives them all (declared first, destroyed last).
  mutable ConcurrencyLimits connections_by_address_;  // mutable: Arrived takes a balancer's client's slot
  std::unique_ptr<httplib::ThreadPool> pool_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread gate_thread_;

  mutable Mutex mu_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::map<int, Waiting> waiting_ GUARDED_BY(mu_);  // by fd
  std::set<std::pair<Clock::time_point, int>> deadlines_ GUARDED_BY(mu_);
  std::unordered_set<int> active_ GUARDED_BY(mu_);
  size_t buffered_ GUARDED_BY(mu_) = 0;  // conn->buffered() summed over waiting_
  std::map<int, Stream> streams_ GUARDED_BY(mu_);  // by fd
  std::unordered_map<std::string, int> stream_of_ GUARDED_BY(mu_);  // key -> fd
  std::set<std::pair<Clock::time_point, int>> stream_due_ GUARDED_BY(mu_);  // next ping or end
  std::atomic<int64_t> timed_out_{0};
  std::atomic<int64_t> too_large_{0};
  std::atomic<int64_t> evicted_{0};
  mutable std::atomic<int64_t> refused_{0};  // mutable: Arrived counts a refused balancer client
  std::once_flag shutdown_once_;
  SSL_CTX* ssl_ctx_ = nullptr;  // set once by EnableTls, before serving
};

}  // namespace p2pshare::central
