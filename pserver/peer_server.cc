#include "pserver/peer_server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/resource_quota.h>
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <fstream>

#include "common/directory_client.h"
#include "common/metrics.h"
#include "common/peer_config.h"
#include "common/peer_channel.h"
#include "pserver/catalog.h"
#include "pserver/folder_watcher.h"
#include "pserver/locator.h"
#include "pserver/metrics_server.h"
#include "pserver/peer_service.h"
#include "pserver/session_agent.h"
#include "pserver/shared_folder.h"
#include "pserver/token_verifier.h"

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

}  // namespace

PeerServer::PeerServer(PeerConfig config) : config_(std::move(config)) {}
PeerServer::~PeerServer() = default;

void PeerServer::Push(Event e) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(e));
  }
  cv_.notify_all();
}

PeerServer::Event PeerServer::Pop() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !events_.empty(); });
  Event e = events_.front();
  events_.pop_front();
  return e;
}

void PeerServer::RequestStop() {
  std::function<void()> cancel;
  {
    std::lock_guard<std::mutex> lock(mu_);
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
  Catalog catalog(folder.get());
  RETURN_IF_ERROR(catalog.Refresh().status());
  spdlog::info("sharing {} files ({} bytes) from {}; {} hashed, the rest from the hash cache",
               catalog.size(), catalog.TotalBytes(), folder->root(), catalog.files_hashed());

  DirectoryClient directory(config_.central_url);
  DirectoryClient verify_client(config_.central_url);  // verifications never queue behind an index upload
  CentralTokenVerifier verifier(&verify_client);

  // Friends: the configured ones, else the last central suggested (kept on
  // disk for restarts and for peer-client).
  std::mutex friends_mu;
  std::vector<std::string> friends = EffectiveFriends(config_);  // GUARDED_BY(friends_mu)
  SessionAgentOptions agent_options;
  agent_options.username = config_.username;
  agent_options.password = config_.password;
  agent_options.advertise_host = config_.advertise_host;
  if (config_.friends.empty()) {
    agent_options.on_friends = [&](const std::vector<std::string>& suggested) {
      std::lock_guard<std::mutex> lock(friends_mu);
      if (suggested == friends || suggested.empty()) return;  // keep the last ones given
      friends = suggested;
      Status saved = SaveFriends(config_.shared_dir, friends);
      if (!saved.ok()) spdlog::warn("cannot keep the friends central suggested: {}", saved.message());
      spdlog::info("friends suggested by central: {}", fmt::join(friends, ", "));
    };
  }
  DirectoryClient locate_client(config_.central_url,
                                DirectoryClientOptions{std::chrono::milliseconds(1000),
                                                       std::chrono::milliseconds(3000)});

  PeerServiceImpl* service_ptr = nullptr;
  SessionAgent agent(
      &directory, &catalog, agent_options,
      [&service_ptr] {
        HeartbeatRequest hb;
        if (service_ptr) {
          hb.free_bytes = service_ptr->free_bytes();
          hb.active_transfers = service_ptr->active_transfers();
        }
        return hb;
      },
      [&](const std::string& token) {
        verify_client.set_token(token);
        locate_client.set_token(token);
      });
  PeerServiceOptions service_options{config_.username, config_.max_storage_bytes};
  service_options.offline_downloads = config_.offline_downloads;
  PeerServiceImpl service(folder.get(), &catalog, &verifier, service_options,
                          [&agent] { agent.FolderChanged(); });
  service_ptr = &service;
  Locator locator(
      &locate_client, &catalog, LocatorOptions{config_.username, config_.advertise_host},
      [&] {
        std::lock_guard<std::mutex> lock(friends_mu);
        return friends;
      },
      [&agent] { return agent.port(); });
  service.set_locator(&locator);

  // GET /metrics, when the config names an address for it.
  prometheus::Registry no_live_metrics;  // everything is read at scrape time
  MetricsServer metrics([&] {
    using prometheus::MetricType;
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
         ScrapedFamily("p2pshare_peer_rpc_errors_total", "failed calls, by method and gRPC code",
                       MetricType::Counter, errors),
         ScrapedValue("p2pshare_peer_shared_files", "files this peer shares", MetricType::Gauge,
                      static_cast<double>(catalog.size())),
         ScrapedValue("p2pshare_peer_shared_bytes", "bytes this peer shares", MetricType::Gauge,
                      static_cast<double>(catalog.TotalBytes()))});
  });
  if (!config_.metrics_listen.empty()) {
    ASSIGN_OR_RETURN(int metrics_port, metrics.Start(config_.metrics_listen));
    spdlog::info("metrics on http://{}:{}/metrics",
                 config_.metrics_listen.substr(0, config_.metrics_listen.rfind(':')), metrics_port);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancel_login_ = [&agent] { agent.Cancel(); };
  }
  struct ClearCancel {
    PeerServer* self;
    ~ClearCancel() {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->cancel_login_ = nullptr;
    }
  } clear_cancel{this};

  // Log in and bind the port central hands out; if some other program holds
  // it, give it back and ask for another.
  std::unique_ptr<grpc::Server> server;
  std::vector<int64_t> taken;
  auto login_and_bind = [&](std::optional<int> preferred) -> Status {
    for (;;) {
      ASSIGN_OR_RETURN(int port, agent.Login(preferred, taken));
      server = Serve(&service, config_.advertise_host, port);
      if (server) {
        WriteLastPort(*folder, port);
        return Status::Ok();
      }
      spdlog::warn("port {} is taken by another program; asking central for another", port);
      taken.push_back(port);
      (void)directory.Logout();
      preferred.reset();
      if (taken.size() > 1000) return Unavailable("no port of the range can be bound here");
    }
  };
  Status bound = login_and_bind(ReadLastPort(*folder));
  if (bound.code() == Code::kCancelled) return Status::Ok();
  RETURN_IF_ERROR(bound);

  auto on_agent_event = [this](AgentEvent e, int port, const std::string& why) {
    switch (e) {
      case AgentEvent::kLoggedOut: Push(Event{Event::kLoggedOut, port, why}); break;
      case AgentEvent::kPortChanged: Push(Event{Event::kPortChanged, port, why}); break;
      case AgentEvent::kFatal: Push(Event{Event::kFatal, port, why}); break;
    }
  };
  agent.Start(on_agent_event);
  FolderWatcher watcher(folder->root(), [&agent] { agent.FolderChanged(); });
  RETURN_IF_ERROR(watcher.Start());
  spdlog::info("peer-server {} serving {} files on {}:{}", config_.username, catalog.size(),
               config_.advertise_host, agent.port());

  for (;;) {
    Event e = Pop();
    switch (e.kind) {
      case Event::kStop: {
        watcher.Stop();
        Status out = agent.Logout();
        if (!out.ok()) spdlog::warn("logout failed: {}", out.message());
        ShutDown(server);
        spdlog::info("peer-server stopped");
        return Status::Ok();
      }
      case Event::kLoggedOut:
        watcher.Stop();
        agent.Stop();
        ShutDown(server);
        spdlog::info("{}; peer-server stopped", e.why);
        return Status::Ok();
      case Event::kPortChanged: {
        ShutDown(server);
        server = Serve(&service, config_.advertise_host, e.port);
        if (!server) {
          agent.Stop();
          taken.push_back(e.port);
          (void)directory.Logout();
          spdlog::warn("port {} is taken by another program; asking central for another", e.port);
          Status again = login_and_bind(std::nullopt);
          if (again.code() == Code::kCancelled) continue;  // a stop is queued
          RETURN_IF_ERROR(again);
          agent.Start(on_agent_event);
        }
        WriteLastPort(*folder, agent.port());
        spdlog::info("now serving on {}:{}", config_.advertise_host, agent.port());
        break;
      }
      case Event::kFatal:
        watcher.Stop();
        agent.Stop();
        ShutDown(server);
        return Unauthenticated(e.why);
    }
  }
}

}  // namespace p2pshare::pserver
