// DirectoryClient: the C++ client of central's REST API (docs/protocol.md),
// used by peer-server and peer-client (and the integration tests).
//
// Every call has a deadline (the options' timeout). Errors come back as the
// Status the server described: its `error` field becomes reason() and its
// HTTP status the code (401 -> kUnauthenticated, 503 -> kUnavailable, ...).
// A central that cannot be reached gives kUnavailable, reason "unreachable";
// one whose certificate is not from the trusted CA gives kFailedPrecondition,
// reason "untrusted_central", without a byte of the request sent.
//
// Making one ignores SIGPIPE in the process (OpenSSL's writes do not ask the
// kernel not to raise it).
//
// Thread-safe: requests on one client are serialized on its keep-alive
// connection (cpp-httplib's own lock); the token is guarded by a mutex.
#pragma once

#include <atomic>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/directory_types.h"
#include "common/mutex.h"
#include "common/status.h"

namespace httplib {
class ClientImpl;
}

namespace p2pshare {

struct DirectoryClientOptions {
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds timeout{10000};
  // For https:// — the CA that must have issued central's certificate
  // (common/central_trust.h), and where it came from, for messages.
  // Central's certificate is recognised by its name (kCentralCommonName),
  // not by host names, so peers reach it under any address.
  std::string ca_pem;
  std::string ca_source;
  // Send a password over plain http:// to a host that is not loopback.
  bool allow_plain_password = false;
  // When not OK, why central cannot be trusted: every call answers it.
  Status setup_error;
  // PUT /index bodies are split into a PUT and PATCHes above this size, so a
  // large folder's index stays under central's 1 MiB body limit.
  size_t max_body_bytes = 768 * 1024;
};

// True when `s` means central could not answer (unreachable, timed out,
// 5xx) rather than refusing the request: what falls back to friend peers.
bool CentralUnavailable(const Status& s);

class DirectoryClient {
 public:
  // `base_url` like "http://127.0.0.1:8080" (no trailing /api/v1).
  explicit DirectoryClient(std::string base_url, DirectoryClientOptions options = {});
  ~DirectoryClient();
  DirectoryClient(const DirectoryClient&) = delete;
  DirectoryClient& operator=(const DirectoryClient&) = delete;

  const std::string& base_url() const { return base_url_; }
  void set_token(std::string token);
  std::string token() const;

  // POST /register. Returns the username. AlreadyExists "username_taken",
  // PermissionDenied "registration_closed", InvalidArgument.
  Result<std::string> Register(const std::string& username, const std::string& password);
  // POST /login; on success the client keeps the token for later calls.
  Result<LoginReply> Login(const LoginRequest& request);
  // POST /logout with the current token.
  Status Logout();
  // POST /heartbeat. Returns session_ttl_s. Unauthenticated with reason
  // "session_expired" or "logged_out" when the session is over.
  Result<HeartbeatReply> Heartbeat(const HeartbeatRequest& request = {});
  // PUT /index (then PATCH for the rest when the list is large). Returns the
  // count of files the directory now holds for this peer.
  Result<int64_t> ReplaceIndex(const std::vector<FileEntry>& files);
  // PATCH /index. Returns the new count.
  Result<int64_t> PatchIndex(const std::vector<FileEntry>& added,
                             const std::vector<std::string>& removed);
  Result<SearchPage> Search(const std::string& query, int64_t limit = 50, int64_t offset = 0,
                            const SearchOptions& options = {});
  // Wishes: POST /wishes, GET /wishes, DELETE /wishes/{id}.
  Result<WishInfo> AddWish(const std::string& query);
  Result<std::vector<WishInfo>> Wishes();
  Status RemoveWish(int64_t id);
  // GET /files/{sha256}; nullopt when no online peer has it.
  Result<std::optional<FileResult>> FindFile(const std::string& sha256);
  Result<std::vector<PeerInfo>> Peers();
  // POST /upload-target. Unavailable "no_peer_available" when none fits.
  Result<Holder> UploadTarget(const std::string& name, int64_t size);
  // Asks central to check whether other peers can reach this account's
  // peer-server at the address central lists (POST /reachability; up to
  // a few seconds).
  // `mapped`: how this peer's router forwards its port ("UPnP",
  // "NAT-PMP"), when it does.
  Result<ReachabilityReply> CheckReachability(const std::string& mapped = "");
  Result<StatsReply> Stats();
  // GET /channel: central's messages to this account's peer-server, each
  // handed to `on_message` as it comes (docs/protocol.md, "Channel").
  // Returns when central ends the stream (OK: ask again), the connection
  // fails or goes quiet past the options' timeout, `on_message` returns
  // false, or Cancel() is called. Use a client of its own (the stream
  // holds its connection), with a timeout over central's ping interval.
  Status Listen(const std::function<bool(const Json&)>& on_message);
  // Ends a Listen under way (from another thread).
  void Cancel();
  // POST /rendezvous: a ticket to reach `peer` through central's relay;
  // with `reverse_port`, `peer` is asked to connect back to us at that
  // port of the address central sees us at (the ticket's token is what it
  // presents).
  Result<RelayTicket> Rendezvous(const std::string& peer, int reverse_port = 0);
  // GET /healthz: OK when central answers.
  Status Health();

 private:
  // Sends one request under /api/v1 (or `path` as is when it starts with
  // "/healthz"); returns the parsed JSON reply ({} for 204).
  Result<Json> Call(const std::string& method, const std::string& path, const Json* body,
                    bool with_token);
  // OK when a password may go to central: https, or plain http to loopback
  // (or allowed). PermissionDenied otherwise.
  Status PasswordMaySend() const;

  const std::string base_url_;
  const DirectoryClientOptions options_;
  std::unique_ptr<httplib::ClientImpl> http_;  // SSLClient for https
  // When the kept-alive connection was last used (steady clock, ms). Central
  // closes connections idle for 30 s; one idle for 20 s is dropped here
  // first, so a request never goes out on a connection central has closed.
  std::atomic<int64_t> last_use_ms_{0};
  bool https_ = false;
  std::string host_;
  mutable Mutex mu_;
  std::string token_ GUARDED_BY(mu_);
};

}  // namespace p2pshare
