#include "common/peer_channel.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <map>
#include <tuple>
#include <unordered_map>

#include "common/host_port.h"
#include "common/mutex.h"
#include "common/relay_link.h"
#include "common/small_files.h"
#include "common/transfer_tuning.h"
#include "common/x509.h"

namespace p2pshare {
namespace {

namespace tls = grpc::experimental;

// How often gRPC re-reads the identity files (a renewed certificate).
constexpr unsigned kRefreshSeconds = 2;
constexpr size_t kMaxCachedChannels = 256;
// The longest wait between two attempts to connect to a peer that is away.
constexpr int kReconnectBackoffMs = 2000;
// Revoked serials kept at most (~100 MiB of churn a day would be needed
// to pass it; the oldest go first).
constexpr size_t kMaxRevokedKept = 1000000;

struct State {
  Mutex mu;
  PeerIdentity identity GUARDED_BY(mu);
  // One provider per identity (by certificate file): one refresh thread each.
  std::map<std::string, std::shared_ptr<tls::FileWatcherCertificateProvider>> providers;
  std::string ca_pem GUARDED_BY(mu);  // the identity's CA, cached
  // Revoked serials, and the order they were told in (to forget them).
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> revoked GUARDED_BY(mu);
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>> revoked_order GUARDED_BY(mu);
  // Relayed accounts: the forwarder their channels connect to, and until
  // when the route holds.
  std::function<Result<RelayTicket>(const std::string&, int)> tickets GUARDED_BY(mu);
  std::string self GUARDED_BY(mu);          // never relayed
  std::string reverse_host GUARDED_BY(mu);  // where holders connect back to us ("": nowhere)
  struct Relayed {
    std::shared_ptr<RelayForwarder> forwarder;
    std::chrono::steady_clock::time_point until;
  };
  std::map<std::string, Relayed> relayed GUARDED_BY(mu);
  // By (address, account, certificate file).
  std::map<std::tuple<std::string, std::string, std::string>, std::shared_ptr<grpc::Channel>>
      channels GUARDED_BY(mu);
};

State& Shared() {
  static State* state = new State();  // lives as long as the process
  return *state;
}

// The identity to use: `as`, or the process's.
PeerIdentity Identity(const PeerIdentity* as) {
  if (as != nullptr) return *as;
  State& s = Shared();
  MutexLock lock(s.mu);
  return s.identity;
}

std::shared_ptr<tls::FileWatcherCertificateProvider> Provider(const PeerIdentity& id) {
  State& s = Shared();
  MutexLock lock(s.mu);
  auto& provider = s.providers[id.cert_file];
  if (!provider) {
    provider = std::make_shared<tls::FileWatcherCertificateProvider>(id.key_file, id.cert_file,
                                                                     id.ca_file, kRefreshSeconds);
  }
  return provider;
}

// The network's CA as this process trusts it (read once from the file).
Result<std::string> NetworkCa() {
  State& s = Shared();
  MutexLock lock(s.mu);
  if (s.ca_pem.empty()) {
    auto pem = ReadSmallFile(s.identity.ca_file);
    if (!pem.ok()) return Unavailable("this peer does not know the network's CA yet");
    s.ca_pem = *pem;
  }
  return s.ca_pem;
}

// The checks of a peer certificate both ends make beyond the chain: it is
// a peer's (not central's, not a CA), of the expected account if one is
// expected, and not revoked.
Result<std::string> CheckPeerCertificate(const CertificateInfo& info, const std::string& expected) {
  std::optional<std::string> account = PeerUsername(info);
  if (!account) return Unauthenticated("the certificate is not a peer's ('" + info.common_name + "')");
  if (!expected.empty() && *account != expected) {
    return Unauthenticated("the certificate is " + *account + "'s, not " + expected + "'s");
  }
  if (CertificateRevoked(info.serial)) {
    return Unauthenticated("the certificate of " + *account +
                           " was revoked (the account logged out or was evicted)");
  }
  return *account;
}

// The client's check of a server, after gRPC checked its chain and dates.
class ExpectPeer final : public tls::ExternalCertificateVerifier {
 public:
  explicit ExpectPeer(std::string account) : account_(std::move(account)) {}

  bool Verify(tls::TlsCustomVerificationCheckRequest* request, std::function<void(grpc::Status)>,
              grpc::Status* sync_status) override {
    grpc::string_ref pem = request->peer_cert();
    auto info = ReadCertificate(std::string(pem.data(), pem.size()));
    Result<std::string> who =
        info.ok() ? CheckPeerCertificate(*info, account_) : Result<std::string>(info.status());
    *sync_status = who.ok() ? grpc::Status::OK
                            : grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                           "refused the server: " + who.status().message());
    return true;  // answered synchronously
  }
  void Cancel(tls::TlsCustomVerificationCheckRequest*) override {}

 private:
  const std::string account_;
};

std::shared_ptr<grpc::Channel> NewChannel(const std::string& host, int port,
                                          const std::string& account, const PeerIdentity& id) {
  tls::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(Provider(id));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);  // the chain, against the network's CA
  options.set_check_call_host(false);     // peers are known by account, not host name
  options.set_certificate_verifier(tls::ExternalCertificateVerifier::Create<ExpectPeer>(account));
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxPeerMessageBytes);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kHttp2WindowBytes);
  args.SetInt(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, kHttp2MaxFrameBytes);
  // A peer that went away and came back is reached at once: gRPC's own
  // backoff between connection attempts grows to 120 s, and calls made
  // meanwhile fail with the last attempt's error (a peer-server restarted
  // within a minute was "unavailable" for 40 s more).
  // (Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC also takes it as the
  // least time a connection attempt, TLS handshake included, may take; its
  // 20 s stay, or a reversal or a slow handshake would be cut off.)
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kReconnectBackoffMs / 4);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kReconnectBackoffMs);
  return grpc::CreateCustomChannel(JoinHostPort(host, port), tls::TlsCredentials(options), args);
}

}  // namespace

PeerIdentity PeerIdentityIn(const std::string& internal_dir) {
  return PeerIdentity{internal_dir + "/peer.key", internal_dir + "/peer.pem",
                      internal_dir + "/network-ca.pem"};
}

void UsePeerIdentity(const PeerIdentity& identity) {
  State& s = Shared();
  MutexLock lock(s.mu);
  s.identity = identity;
  s.ca_pem.clear();
  s.channels.clear();
}

void NarrowPeerTlsSuites() {
  // gRPC reads it once, when its TLS is first set up.
  ::setenv("GRPC_SSL_CIPHER_SUITES", "ECDHE-ECDSA-AES256-GCM-SHA384", 1);
}

void ReloadPeerIdentity() {
  State& s = Shared();
  MutexLock lock(s.mu);
  s.providers.clear();
  s.channels.clear();
}

void AddRevokedCertificates(const std::vector<std::string>& serials) {
  State& s = Shared();
  const auto now = std::chrono::steady_clock::now();
  MutexLock lock(s.mu);
  for (const std::string& serial : serials) {
    if (s.revoked.emplace(serial, now).second) s.revoked_order.emplace_back(now, serial);
  }
  // The longest a certificate lives is a day (cert_lifetime_s at most).
  while (!s.revoked_order.empty() &&
         (now - s.revoked_order.front().first > std::chrono::hours(24) ||
          s.revoked_order.size() > kMaxRevokedKept)) {
    s.revoked.erase(s.revoked_order.front().second);
    s.revoked_order.pop_front();
  }
}

void ForgetRevokedCertificates() {
  State& s = Shared();
  MutexLock lock(s.mu);
  s.revoked.clear();
  s.revoked_order.clear();
}

bool CertificateRevoked(const std::string& serial) {
  State& s = Shared();
  MutexLock lock(s.mu);
  return s.revoked.count(serial) > 0;
}

void UseRelay(std::function<Result<RelayTicket>(const std::string& account, int reverse_port)> tickets,
              const std::string& self, const std::string& reverse_host) {
  State& s = Shared();
  MutexLock lock(s.mu);
  s.tickets = std::move(tickets);
  s.self = self;
  s.reverse_host = reverse_host;
}

std::string RouteTo(const std::string& account) {
  State& s = Shared();
  MutexLock lock(s.mu);
  auto it = s.relayed.find(account);
  if (it == s.relayed.end() || std::chrono::steady_clock::now() >= it->second.until) return "direct";
  return it->second.forwarder->route();
}

std::string RelayFailure(const std::string& account) {
  State& s = Shared();
  MutexLock lock(s.mu);
  auto it = s.relayed.find(account);
  return it == s.relayed.end() ? "" : it->second.forwarder->last_failure();
}

namespace {

// Whether `channel` connects within `wait`: false as soon as an attempt
// fails (refused, unroutable, a handshake that failed) or time runs out.
bool ConnectsWithin(grpc::Channel& channel, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::system_clock::now() + wait;
  grpc_connectivity_state state = channel.GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) return false;
    if (!channel.WaitForStateChange(state, deadline)) return false;
    state = channel.GetState(/*try_to_connect=*/true);
  }
  return true;
}

// Whether a TCP connection to host:port is accepted (then closed).
bool TcpAnswers(const std::string& host, int port) {
  int fd = ConnectTcp(host, port, 1500);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// The forwarder that carries `account`'s connections through the relay
// (made on first use); null when no relay is set up or none can listen.
std::shared_ptr<RelayForwarder> ForwarderFor(const std::string& account) {
  State& s = Shared();
  MutexLock lock(s.mu);
  if (!s.tickets) return nullptr;
  auto& r = s.relayed[account];
  if (!r.forwarder) {
    auto made = RelayForwarder::Start(account, s.tickets, s.reverse_host);
    if (!made.ok()) {
      s.relayed.erase(account);
      return nullptr;
    }
    r.forwarder = std::move(*made);
  }
  r.until = std::chrono::steady_clock::now() + kRelayedRouteLife;
  return r.forwarder;
}

}  // namespace

std::shared_ptr<grpc::Channel> PeerChannel(const std::string& host, int port,
                                           const std::string& account, const PeerIdentity* as) {
  State& s = Shared();
  const PeerIdentity id = Identity(as);
  const bool relayed = !account.empty() && RouteTo(account) != "direct";
  const auto key = std::make_tuple(relayed ? "relay:" + account : JoinHostPort(host, port), account, id.cert_file);
  bool may_relay = false;
  {
    MutexLock lock(s.mu);
    auto it = s.channels.find(key);
    if (it != s.channels.end()) return it->second;
    may_relay = !account.empty() && s.tickets != nullptr && account != s.self;
  }
  std::shared_ptr<grpc::Channel> channel;
  if (relayed) {
    if (auto forwarder = ForwarderFor(account)) channel = NewChannel("127.0.0.1", forwarder->port(), account, id);
  }
  if (!channel) {
    channel = NewChannel(host, port, account, id);
    if (may_relay && !ConnectsWithin(*channel, kDirectProbe) && !TcpAnswers(host, port)) {
      // Nothing answers at its address: through the relay from now on. (A
      // server that answers but fails the handshake — another account's,
      // another network's — is not gone around: the call says who it was.)
      if (auto forwarder = ForwarderFor(account)) {
        channel = NewChannel("127.0.0.1", forwarder->port(), account, id);
        MutexLock lock(s.mu);
        if (s.channels.size() >= kMaxCachedChannels) s.channels.clear();
        return s.channels.emplace(std::make_tuple("relay:" + account, account, id.cert_file), channel)
            .first->second;
      }
    }
  }
  MutexLock lock(s.mu);
  if (s.channels.size() >= kMaxCachedChannels) s.channels.clear();
  return s.channels.emplace(key, channel).first->second;
}

std::unique_ptr<v1::PeerService::Stub> PeerStub(const std::string& host, int port,
                                                const std::string& account, const PeerIdentity* as) {
  return v1::PeerService::NewStub(PeerChannel(host, port, account, as));
}

void AddPeerListeningPort(grpc::ServerBuilder* builder, const std::string& host, int port,
                          int* bound, const PeerIdentity* as) {
  tls::TlsServerCredentialsOptions options(Provider(Identity(as)));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  // Every caller is asked for its certificate; PeerCaller checks it, so a
  // caller without a good one hears why (UNAUTHENTICATED) instead of a
  // failed handshake.
  options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  builder->AddListeningPort(JoinHostPort(host, port), tls::TlsServerCredentials(options), bound);
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kHttp2WindowBytes);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, kHttp2MaxFrameBytes);
  // Bounds per connection (docs/protocol.md, "Limits"): the handshake's
  // time, streams at once, and a connection that goes quiet is probed,
  // then closed.
  builder->AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kMaxStreamsPerConnection);
  builder->AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, kServerHandshakeTimeoutMs);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60 * 1000);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  builder->AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, 10 * 60 * 1000);
}

Result<std::string> PeerCaller(const grpc::ServerContext& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  std::vector<grpc::string_ref> pems =
      auth ? auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME)
           : std::vector<grpc::string_ref>();
  if (pems.empty()) {
    return Unauthenticated(
        "no client certificate: only members of the network (certificates from its central) "
        "may call this");
  }
  ASSIGN_OR_RETURN(std::string ca, NetworkCa());
  ASSIGN_OR_RETURN(CertificateInfo info,
                   VerifyCertificate(std::string(pems[0].data(), pems[0].size()), ca,
                                     static_cast<int64_t>(std::time(nullptr))));
  return CheckPeerCertificate(info, "");
}

}  // namespace p2pshare
