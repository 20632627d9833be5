#include "pserver/peer_server.h"

#include <netdb.h>
#include <sys/socket.h>

#include <grpcpp/grpcpp.h>
#include <grpcpp/resource_quota.h>
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

#include "common/logging.h"
#include "common/backoff.h"
#include "common/central_trust.h"
#include "common/directory_client.h"
#include "common/host_port.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "common/peer_channel.h"
#include "common/peer_config.h"
#include "common/peer_credentials.h"
#include "common/unique_fd.h"
#include "pserver/catalog.h"
#include "pserver/central_channel.h"
#include "pserver/folder_watcher.h"
#include "pserver/locator.h"
#include "pserver/metrics_server.h"
#include "pserver/peer_service.h"
#include "pserver/port_mapper.h"
#include "common/part_record.h"
#include "pserver/session_agent.h"
#include "pserver/shared_folder.h"

namespace p2pshare::pserver {
namespace {

// The port this peer last served on, kept in its internal folder so a
// restarted peer-server asks for it again.
std::optional<int> ReadLastPort(const SharedFolder& folder) {
  std::ifstream in(folder.internal_dir() + "/port");
  int port = 0;
  if (in >> port && port > 0 && port < 65536) return port;
  return std::nullopt;
}

void WriteLastPort(const SharedFolder& folder, int port) {
  std::ofstream(folder.internal_dir() + "/port", std::ios::trunc) << port << "\n";
}

constexpr int kMaxThreads = 128;  // gRPC threads: one per active call

// The address the gRPC port listens on: listen_host, or every interface
// ("[::]": gRPC listens on IPv4 and IPv6 there, or IPv4 alone on a
// machine without IPv6).
std::string ListenHost(const PeerConfig& config) {
  return config.listen_host.empty() ? "::" : config.listen_host;
}


// A gRPC server on host:port, or nullptr when the port cannot be bound.
std::unique_ptr<grpc::Server> Serve(PeerServiceImpl* service, const std::string& host, int port) {
  grpc::ServerBuilder builder;
  int bound = 0;
  AddPeerListeningPort(&builder, host, port, &bound);
  grpc::ResourceQuota quota("peer-server");
  quota.SetMaxThreads(kMaxThreads);
  builder.SetResourceQuota(quota);
  builder.RegisterService(service);
  auto server = builder.BuildAndStart();
  if (!server || bound == 0) return nullptr;
  return server;
}

void ShutDown(std::unique_ptr<grpc::Server>& server) {
  if (!server) return;
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Wait();
  server.reset();
}

// /metrics of a peer-server: everything read at scrape time.
std::string RenderPeerMetrics(const PeerServiceImpl& service, const Catalog& catalog) {
  using prometheus::MetricType;
  static prometheus::Registry no_live_metrics;
  PeerServiceStats st = service.stats();
  std::vector<std::pair<MetricLabels, double>> errors;
  for (const auto& [key, n] : st.errors) {
    errors.push_back({{{"method", key.first}, {"code", key.second}}, static_cast<double>(n)});
  }
  return RenderMetrics(
      no_live_metrics,
      {ScrapedValue("p2pshare_peer_bytes_served_total", "file bytes sent to downloaders",
                    MetricType::Counter, static_cast<double>(st.bytes_served)),
       ScrapedValue("p2pshare_peer_bytes_received_total", "file bytes received in uploads",
                    MetricType::Counter, static_cast<double>(st.bytes_received)),
       ScrapedValue("p2pshare_peer_active_transfers", "downloads and uploads in progress",
                    MetricType::Gauge, static_cast<double>(st.active_transfers)),
       ScrapedValue("p2pshare_peer_refused_calls_total",
                    "calls refused over a caller's limits (calls at once, Locate rate)",
                    MetricType::Counter, static_cast<double>(st.refused_calls)),
       ScrapedValue("p2pshare_peer_stalled_calls_total",
                    "transfers ended after stall_timeout_s without progress", MetricType::Counter,
                    static_cast<double>(st.stalled_calls)),
       ScrapedValue("p2pshare_peer_upload_slots_busy", "other accounts holding an upload slot",
                    MetricType::Gauge, static_cast<double>(st.upload_slots_busy)),
       ScrapedValue("p2pshare_peer_upload_queue", "other accounts waiting in the upload queue",
                    MetricType::Gauge, static_cast<double>(st.upload_queue)),
       ScrapedFamily("p2pshare_peer_rpc_errors_total", "failed calls, by method and gRPC code",
                     MetricType::Counter, errors),
       ScrapedValue("p2pshare_peer_shared_files", "files this peer shares", MetricType::Gauge,
                    static_cast<double>(catalog.size())),
       ScrapedValue("p2pshare_peer_shared_bytes", "bytes this peer shares", MetricType::Gauge,
                    static_cast<double>(catalog.TotalBytes()))});
}

}  // namespace

// The pieces of a running peer-server, in the order they are built (each
// may use the ones above it).
struct PeerServer::Parts {
  Parts(const PeerConfig& config, std::unique_ptr<SharedFolder> shared_folder,
        const CentralTrust& trust, std::unique_ptr<PeerCredentials> peer_credentials)
      : config(config),
        folder(std::move(shared_folder)),
        credentials(std::move(peer_credentials)),
        catalog(folder.get()),
        directory(config.central_url, CentralClientOptions(config, trust)),
        locate_client(config.central_url, CentralClientOptions(config, trust, ShortCalls())),
        friends(EffectiveFriends(config)),
        agent(&directory, &catalog, AgentOptions(), [this] { return Load(); },
              [this](const std::string& token) { locate_client.set_token(token); }),
        service(folder.get(), &catalog, ServiceOptions(), [this] { agent.FolderChanged(); }),
        locator(&locate_client, &catalog, LocatorOptions{config.username},
                [this] { return Friends(); }, [this] { return HostPort{agent.host(), agent.port()}; }),
        metrics([this] { return RenderPeerMetrics(service, catalog); }),
        channel(config.central_url, CentralClientOptions(config, trust), ChannelHooks()) {
    service.set_locator(&locator);
  }
  // Whatever path Run took out: no thread of the agent or the server may
  // outlive the parts it calls into.
  ~Parts() {
    channel.Stop();
    if (mapping.joinable()) mapping.join();
    mapper.Unmap();
    agent.Stop();
    wishes.Close();  // WishNews calls waiting return now
    ShutDown(server);
    metrics.Stop();
  }

  // Searches on a caller's behalf answer within a friend's deadline.
  static DirectoryClientOptions ShortCalls() {
    DirectoryClientOptions o;
    o.connect_timeout = std::chrono::milliseconds(1000);
    o.timeout = std::chrono::milliseconds(3000);
    return o;
  }

  SessionAgentOptions AgentOptions() {
    SessionAgentOptions o;
    o.username = config.username;
    o.password = config.password;
    o.advertise_host = config.advertise_host;
    // Without configured friends, keep the ones central suggests (on disk
    // too, for restarts and for peer-client).
    if (config.friends.empty()) o.on_friends = [this](const auto& f) { NoteSuggestedFriends(f); };
    o.await_serving = [this] { AwaitServing(); };
    o.csr = credentials->csr();
    o.on_credentials = [this](const std::string& cert, const std::string& ca,
                              const std::vector<std::string>& revoked) {
      return credentials->Accept(cert, ca, revoked);
    };
    return o;
  }

  // Asks the router in front of this peer to forward its port, in a
  // thread (discovery takes seconds); central is asked to check again
  // when it does (pserver/port_mapper.h).
  void MapPortSoon() {
    if (!config.port_mapping) return;
    if (mapping.joinable()) mapping.join();
    mapping = std::thread([this, port = agent.port()] {
      auto m = mapper.Map(port);
      if (!m.ok()) {
        spdlog::debug("the router does not forward port {} on request: {}", port, m.status().message());
        agent.SetPortMapping("");
        return;
      }
      spdlog::info("the router ({}) forwards port {} to this peer: other peers reach it at {}", m->method,
                   m->external_port, JoinHostPort(m->external_host, m->external_port));
      agent.SetPortMapping(m->method);
    });
  }

  CentralChannelHooks ChannelHooks() {
    CentralChannelHooks h;
    h.token = [this] { return directory.token(); };
    h.port = [this] { return agent.port(); };
    h.local_host = LocalPeerHost(config);
    auto url = ParseCentralUrl(config.central_url);
    if (url.ok()) h.central_host = url->host;
    h.heartbeat_now = [this] { agent.HeartbeatSoon(); };
    h.wish_found = [this](const Json& m) { wishes.Add(m); };
    return h;
  }

  PeerServiceOptions ServiceOptions() {
    PeerServiceOptions options{config.username, config.max_storage_bytes};
    options.max_calls_per_peer = config.max_calls_per_peer;
    options.max_calls = kMaxThreads - 32;  // the rest: Ping, and callers being refused
    options.locate_per_second = static_cast<double>(config.locate_per_second);
    options.stall_timeout = std::chrono::seconds(config.stall_timeout_s);
    options.upload_slots = config.upload_slots;
    options.partial_dir = PartialDir(config.shared_dir);
    options.download_dir = config.download_dir;
    options.max_upload_rate = config.max_upload_rate;
    options.wishes = &wishes;
    return options;
  }

  // Calls this peer itself until it answers with a certificate this
  // process accepts (the one of the last login: the revoked serials came
  // with it), for at most 5 s. gRPC's certificate provider reads the
  // files again every few seconds.
  void AwaitServing() {
    const std::string self = LocalPeerHost(config);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < until) {
      auto stub = PeerStub(self, agent.port(), config.username);
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
      v1::PingRequest req;
      v1::PingReply reply;
      if (stub->Ping(&ctx, req, &reply).ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the provider's next look
    }
    spdlog::warn("this peer still serves an old certificate 5 s after logging in again");
  }

  // What heartbeats report: free bytes and active transfers.
  HeartbeatRequest Load() {
    HeartbeatRequest hb;
    hb.free_bytes = service.free_bytes();
    // Transfers as a person counts them: each download served (its calls
    // come and go a second apart, pserver/upload_ledger.h) and each upload
    // being received, not the calls in flight at this instant.
    const std::vector<UploadLedger::Served> serving = service.Serving();
    hb.active_transfers = std::max<int64_t>(service.active_transfers(), static_cast<int64_t>(serving.size()));
    // Who downloads from here, for the dashboard's transfers in flight.
    hb.serving.emplace();
    for (const UploadLedger::Served& s : serving) {
      if (hb.serving->size() == kMaxServingReported) break;
      hb.serving->push_back(ServingTo{s.to, static_cast<int64_t>(s.rate)});
    }
    // Rates over the time since the last heartbeat.
    const PeerServiceStats st = service.stats();
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - rates_at).count();
    if (rates_at != std::chrono::steady_clock::time_point{} && seconds > 0) {
      hb.sending_rate = static_cast<int64_t>(static_cast<double>(st.bytes_served - served_before) / seconds);
      hb.receiving_rate = static_cast<int64_t>(static_cast<double>(st.bytes_received - received_before) / seconds);
    }
    rates_at = now;
    served_before = st.bytes_served;
    received_before = st.bytes_received;
    // The files being downloaded here, while there are any, and once more
    // after the last (central then forgets them).
    std::vector<PartialFile> partials = service.Partials();
    if (!partials.empty() || had_partials) hb.partials = partials;
    had_partials = !partials.empty();
    return hb;
  }

  std::vector<std::string> Friends() {
    MutexLock lock(friends_mu);
    return friends;
  }

  void NoteSuggestedFriends(const std::vector<std::string>& suggested) {
    MutexLock lock(friends_mu);
    if (suggested == friends || suggested.empty()) return;  // keep the last ones given
    friends = suggested;
    Status saved = SaveFriends(config.shared_dir, friends);
    if (!saved.ok()) spdlog::warn("cannot keep the friends central suggested: {}", saved.message());
    spdlog::info("friends suggested by central: {}", fmt::join(friends, ", "));
  }

  const PeerConfig& config;
  std::unique_ptr<SharedFolder> folder;
  std::unique_ptr<PeerCredentials> credentials;  // its key and certificates
  Catalog catalog;
  DirectoryClient directory;
  DirectoryClient locate_client;  // searches on a caller's behalf: short deadlines
  Mutex friends_mu;
  bool had_partials = false;  // the last heartbeat announced partial files (heartbeat thread only)
  // The byte counts at the last heartbeat, and when (heartbeat thread only).
  std::chrono::steady_clock::time_point rates_at = {};
  int64_t served_before = 0, received_before = 0;
  std::vector<std::string> friends GUARDED_BY(friends_mu);
  WishInbox wishes;  // central's news of this account's wishes, for WishNews
  SessionAgent agent;
  PeerServiceImpl service;
  Locator locator;
  MetricsServer metrics;
  std::unique_ptr<grpc::Server> server;
  std::vector<int64_t> taken;  // ports some other program holds
  CentralChannel channel;      // central's messages: relay tickets, news
  PortMapper mapper;           // the router's forwarding of the port, if it makes one
  std::thread mapping;         // MapPortSoon's
};

PeerServer::PeerServer(PeerConfig config) : config_(std::move(config)) {}
PeerServer::~PeerServer() = default;

void PeerServer::Push(Event e) {
  {
    MutexLock lock(mu_);
    events_.push_back(std::move(e));
  }
  cv_.notify_all();
}

PeerServer::Event PeerServer::Pop() {
  MutexLock lock(mu_);
  cv_.wait(lock, [this] { mu_.AssertHeld(); return !events_.empty(); });
  Event e = events_.front();
  events_.pop_front();
  return e;
}

void PeerServer::RequestStop() {
  std::function<void()> cancel;
  {
    MutexLock lock(mu_);
    cancel = cancel_login_;
  }
  if (cancel) cancel();
  Push(Event{Event::kStop, 0, "stop requested"});
}

Status PeerServer::Run() {
  if (config_.password.empty()) {
    return InvalidArgument("no password: set 'password' in the config or P2PSHARE_PASSWORD");
  }
  ASSIGN_OR_RETURN(auto folder, SharedFolder::Open(config_.shared_dir));
  Result<CentralTrust> trust = TrustCentral();
  if (trust.status().code() == Code::kCancelled) return Status::Ok();
  RETURN_IF_ERROR(trust.status());
  if (!trust->note.empty()) spdlog::warn("{}", trust->note);
  ASSIGN_OR_RETURN(auto credentials, PeerCredentials::Open(folder->internal_dir(),
                                                           config_.username, trust->ca_pem));
  auto parts =
      std::make_unique<Parts>(config_, std::move(folder), *trust, std::move(credentials));
  RETURN_IF_ERROR(parts->catalog.Refresh().status());
  spdlog::info("sharing {} ({}) from {}; {} hashed, the rest from the hash cache",
               Counted(static_cast<int64_t>(parts->catalog.size()), "file"),
               Counted(parts->catalog.TotalBytes(), "byte"), parts->folder->root(),
               parts->catalog.files_hashed());
  if (!config_.metrics_listen.empty()) {
    ASSIGN_OR_RETURN(int metrics_port, parts->metrics.Start(config_.metrics_listen));
    spdlog::info("metrics on http://{}/metrics",
                 JoinHostPort(ParseHostPort(config_.metrics_listen, true)->host, metrics_port));
  }
  {
    MutexLock lock(mu_);
    cancel_login_ = [&agent = parts->agent] { agent.Cancel(); };
  }
  struct ClearCancel {
    PeerServer* self;
    ~ClearCancel() {
      MutexLock lock(self->mu_);
      self->cancel_login_ = nullptr;
    }
  } clear_cancel{this};

  Status bound = LoginAndBind(*parts, ReadLastPort(*parts->folder));
  if (bound.code() == Code::kCancelled) return Status::Ok();
  RETURN_IF_ERROR(bound);
  StartAgent(*parts);
  return HandleEvents(*parts);
}

Result<CentralTrust> PeerServer::TrustCentral() {
  Backoff backoff(std::chrono::milliseconds(250), std::chrono::seconds(8));
  bool told = false;
  for (;;) {
    Result<CentralTrust> trust = PeerCentralTrust(config_);
    if (trust.ok() || trust.status().reason() != "unreachable") return trust;
    if (!told) {
      spdlog::warn("{}; retrying, to learn which CA central's certificate is from",
                   trust.status().message());
      told = true;
    }
    MutexLock lock(mu_);
    if (cv_.wait_for(lock, backoff.Next(), [this] { mu_.AssertHeld(); return !events_.empty(); })) {
      return Status(Code::kCancelled, "stopping");
    }
  }
}

Status PeerServer::Bind(Parts& p, int port) {
  const std::string host = ListenHost(config_);
  RETURN_IF_ERROR(ProbeListen(host, port,
                              "listen_host must be an address of this machine; a NAT's public "
                              "address goes in advertise_host"));
  p.server = Serve(&p.service, host, port);
  if (!p.server) return AlreadyExists("port " + std::to_string(port) + " is taken");
  return Status::Ok();
}

bool PeerServer::AnswersAsThisAccount(const std::string& host, int port) const {
  // The channel checks that whoever answers holds a certificate of this
  // account from the network's CA.
  auto stub = PeerStub(host, port, config_.username);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  v1::PingReply reply;
  return stub->Ping(&ctx, v1::PingRequest(), &reply).ok();
}

Status PeerServer::LoginAndBind(Parts& p, std::optional<int> preferred) {
  for (;;) {
    ASSIGN_OR_RETURN(int port, p.agent.Login(preferred, p.taken));
    // One peer-server per account: a second would take over the first's
    // session and replace its files in the index. No logout here: that
    // would end the first's session too.
    if (p.agent.joined() && AnswersAsThisAccount(p.agent.host(), port)) {
      return FailedPrecondition("another peer-server for account '" + config_.username +
                                    "' is already running at " + JoinHostPort(p.agent.host(), port) +
                                    " (it answered there); stop it first, or use another account: two "
                                    "peer-servers for one account would replace each other's files in the index",
                                "already_served");
    }
    Status bound = Bind(p, port);
    if (bound.ok()) {
      WriteLastPort(*p.folder, port);
      return Status::Ok();
    }
    if (bound.code() != Code::kAlreadyExists) {
      (void)p.directory.Logout();
      return bound;
    }
    spdlog::warn("port {} is taken by another program; asking central for another", port);
    p.taken.push_back(port);
    (void)p.directory.Logout();
    preferred.reset();
    if (p.taken.size() > 1000) return Unavailable("no port of the range can be bound here");
  }
}

void PeerServer::StartAgent(Parts& p) {
  p.agent.Start([this](AgentEvent e, int port, const std::string& why) {
    switch (e) {
      case AgentEvent::kLoggedOut: Push(Event{Event::kLoggedOut, port, why}); break;
      case AgentEvent::kPortChanged: Push(Event{Event::kPortChanged, port, why}); break;
      case AgentEvent::kFatal: Push(Event{Event::kFatal, port, why}); break;
    }
  });
}

bool PeerServer::MoveTo(Parts& p, int port, Status* out) {
  p.wishes.WakeAll();  // WishNews calls waiting end at once
  ShutDown(p.server);
  Status bound = Bind(p, port);
  if (!bound.ok() && bound.code() != Code::kAlreadyExists) {
    p.agent.Stop();
    (void)p.directory.Logout();
    *out = bound;
    return false;
  }
  if (!bound.ok()) {
    p.agent.Stop();
    p.taken.push_back(port);
    (void)p.directory.Logout();
    spdlog::warn("port {} is taken by another program; asking central for another", port);
    Status again = LoginAndBind(p, std::nullopt);
    if (again.code() == Code::kCancelled) return true;  // a stop is queued
    if (!again.ok()) {
      *out = again;
      return false;
    }
    StartAgent(p);
  }
  WriteLastPort(*p.folder, p.agent.port());
  spdlog::info("now serving on port {} (other peers reach it at {})", p.agent.port(),
               JoinHostPort(p.agent.host(), p.agent.port()));
  p.agent.CheckReachabilitySoon();
  p.MapPortSoon();
  return true;
}

Status PeerServer::HandleEvents(Parts& p) {
  FolderWatcher watcher(p.folder->root(), [&p] { p.agent.FolderChanged(); });
  RETURN_IF_ERROR(watcher.Start());
  spdlog::info("peer-server {} serving {} on {} (other peers reach it at {})",
               config_.username, Counted(static_cast<int64_t>(p.catalog.size()), "file"), JoinHostPort(ListenHost(config_), p.agent.port()),
               JoinHostPort(p.agent.host(), p.agent.port()));
  p.agent.CheckReachabilitySoon();
  p.channel.Start();
  p.MapPortSoon();
  for (;;) {
    Event e = Pop();
    Status out;
    switch (e.kind) {
      case Event::kStop:
        watcher.Stop();
        out = p.agent.Logout();
        if (!out.ok()) spdlog::warn("logout failed: {}", out.message());
        p.wishes.WakeAll();  // WishNews calls waiting end at once
        ShutDown(p.server);
        spdlog::info("peer-server stopped");
        return Status::Ok();
      case Event::kLoggedOut:
        watcher.Stop();
        p.agent.Stop();
        p.wishes.WakeAll();  // WishNews calls waiting end at once
        ShutDown(p.server);
        spdlog::info("{}; peer-server stopped", e.why);
        return Status::Ok();
      case Event::kPortChanged:
        if (!MoveTo(p, e.port, &out)) return out;
        break;
      case Event::kFatal:
        watcher.Stop();
        p.agent.Stop();
        p.wishes.WakeAll();  // WishNews calls waiting end at once
        ShutDown(p.server);
        return Unauthenticated(e.why);
    }
  }
}

}  // namespace p2pshare::pserver
