// central: the directory server. Parses flags and config, opens the store,
// serves the REST API until SIGINT/SIGTERM.
#include <algorithm>
#include <filesystem>
#include <cstdio>
#include <mutex>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "common/file_limit.h"
#include "common/heap.h"
#include "central/central_config.h"
#include "central/certificate_authority.h"
#include "central/directory.h"
#include "central/store/replica_store.h"
#include "central/http_api.h"
#include "central/relay.h"
#include "central/store/directory_store.h"
#include "common/host_port.h"
#include "common/logging.h"
#include "common/signal_waiter.h"
#include "common/small_files.h"
#include "common/x509.h"

namespace {

int Fail(const p2pshare::Status& s, int code = p2pshare::kExitFailed) {
  std::fprintf(stderr, "central: %s\n", s.message().c_str());
  return code;
}

// Raises the soft open-file limit towards the hard one so `wanted`
// connections fit; returns how many connections the limit allows.
size_t ConnectionsTheFileLimitAllows(int64_t wanted) {
  constexpr int64_t kReserve = 128;  // database, logs, listen socket, workers
  const uint64_t limit = p2pshare::RaiseOpenFileLimit(static_cast<uint64_t>(wanted + kReserve));
  if (limit == p2pshare::kUnlimitedFiles) return static_cast<size_t>(wanted);
  int64_t fit = static_cast<int64_t>(limit) - kReserve;
  if (fit < wanted) {
    spdlog::warn("open-file limit {} allows {} connections, not max_connections {}",
                 limit, std::max<int64_t>(fit, 16), wanted);
  }
  return static_cast<size_t>(std::max<int64_t>(16, std::min(fit, wanted)));
}

p2pshare::central::DirectoryOptions DirectoryOptionsFor(
    const p2pshare::central::CentralConfig& config, const p2pshare::central::CertificateAuthority* ca) {
  p2pshare::central::DirectoryOptions options;
  options.port_range = config.port_range;
  options.heartbeat_interval_s = config.heartbeat_interval_s;
  options.session_ttl_s = config.session_ttl_s;
  options.allow_registration = config.allow_registration;
  options.ca = ca;
  options.cert_lifetime_s = config.cert_lifetime_s;
  options.max_peers_per_address = config.max_peers_per_address;
  options.register_per_minute = config.register_per_minute;
  options.password_checks = config.password_checks;
  options.pbkdf2_iterations = static_cast<int>(config.pbkdf2_iterations);
  options.max_files_per_peer = config.max_files_per_peer;
  options.max_index_files = config.max_index_files;
  return options;
}

p2pshare::central::HttpApiOptions HttpApiOptionsFor(const p2pshare::central::CentralConfig& config) {
  p2pshare::central::HttpApiOptions options;
  options.public_read = config.public_read;
  options.request_timeout_s = config.request_timeout_s;
  options.max_connections = ConnectionsTheFileLimitAllows(config.max_connections);
  options.max_connections_per_address = static_cast<size_t>(config.max_connections_per_address);
  for (const std::string& proxy : config.trusted_proxies) {
    options.trusted_proxies.insert(p2pshare::central::NormalizedIp(proxy).value_or(proxy));
  }
  options.min_body_rate = config.min_body_rate;
  return options;
}

// The relay for peers that cannot reach each other (null when "off").
p2pshare::Result<std::unique_ptr<p2pshare::central::RelayServer>> StartRelay(
    const p2pshare::central::CentralConfig& config) {
  using p2pshare::central::RelayServer;
  bool derived = false;
  auto at = p2pshare::central::RelayListen(config, &derived);
  if (!at) return std::unique_ptr<RelayServer>();
  p2pshare::central::RelayOptions options;
  options.max_sessions = config.relay_sessions;
  options.sessions_per_account = config.relay_sessions_per_account;
  options.session_rate = config.relay_session_rate;
  options.total_rate = config.relay_total_rate;
  auto relay = RelayServer::Start(at->host, at->port, options);
  if (!relay.ok() && derived && at->port != 0) {
    spdlog::warn("the relay cannot have port {} ({}): it takes any free port", at->port,
                 relay.status().message());
    relay = RelayServer::Start(at->host, 0, options);
  }
  if (relay.ok()) {
    spdlog::info("relay for peers that cannot reach each other listening on {}",
                 p2pshare::JoinHostPort(at->host, (*relay)->port()));
  }
  return relay;
}

// The network's CA: in ca_dir, or — replicas on a shared store — the one the
// store holds (the first replica to start puts its new one there).
p2pshare::Result<std::unique_ptr<p2pshare::central::CertificateAuthority>> OpenCertificateAuthority(
    const p2pshare::central::CentralConfig& config, p2pshare::central::DirectoryStore* store,
    const std::vector<std::string>& names) {
  using p2pshare::central::CertificateAuthority;
  p2pshare::central::ReplicaStore* shared = store->replica();
  if (shared == nullptr) return CertificateAuthority::Open(CaDir(config), names);
  ASSIGN_OR_RETURN(auto made, CertificateAuthority::MakeCa());
  ASSIGN_OR_RETURN(auto pems, shared->SharedCa({made.key_pem, made.cert_pem}));
  if (!config.ca_dir.empty()) {
    // The CA's certificate (never its key) for handing to peers: central_ca.
    std::error_code ec;
    std::filesystem::create_directories(config.ca_dir, ec);
    RETURN_IF_ERROR(
        p2pshare::WriteFileAtomically(config.ca_dir + "/ca.pem", pems.cert_pem, 0644));
  }
  return CertificateAuthority::FromPems({pems.key_pem, pems.cert_pem}, names);
}

}  // namespace

int main(int argc, char** argv) {
  p2pshare::BoundHeapGrowth(p2pshare::HeapUse::kDirectory);
  using namespace p2pshare;
  using namespace p2pshare::central;

  CentralConfig config;
  ConfigSchema schema;
  DescribeCentralConfig(schema, &config);
  CLI::App app{"p2pshare central: the directory of the network", "central"};
  std::string config_path;
  app.add_option("--config", config_path, "JSON config file (flags beat the file)")->type_name("PATH");
  app.set_version_flag("--version", std::string(P2PSHARE_VERSION));
  schema.AddFlags(app);
  UseHelpLayout(app, "central [OPTIONS]");
  if (auto exit_code = ParseCommandLine(app, argc, argv)) return *exit_code;
  Status loaded = schema.Load(config_path);
  if (!loaded.ok()) return Fail(loaded, kExitUsage);
  Status valid = ValidateCentralConfig(config);
  if (!valid.ok()) return Fail(valid, kExitUsage);
  Status logging = SetupLogging("central", config.log_level, config.log_format);
  if (!logging.ok()) return Fail(logging, kExitUsage);

  // A signal during start-up stops central as soon as it would serve.
  std::mutex api_mu;
  HttpApi* api_for_signals = nullptr;  // GUARDED_BY(api_mu)
  bool stop_requested = false;         // GUARDED_BY(api_mu)
  StopOnSignals([&](const char* name) {
    spdlog::info("{} received, stopping", name);
    std::lock_guard<std::mutex> lock(api_mu);
    stop_requested = true;
    if (api_for_signals) api_for_signals->Stop();
  });

  auto listen = ParseHostPort(config.listen, /*allow_any_port=*/true);
  std::vector<std::string> names = DefaultServerNames(listen->host);
  names.insert(names.end(), config.tls_names.begin(), config.tls_names.end());
  auto store = DirectoryStore::Open(config.db);
  if (!store.ok()) return Fail(store.status());
  auto ca = OpenCertificateAuthority(config, store->get(), names);
  if (!ca.ok()) return Fail(ca.status());
  Directory directory(std::move(store).value(), DirectoryOptionsFor(config, ca->get()));
  Status started = directory.Start();
  if (!started.ok()) return Fail(started);

  HttpApi api(&directory, HttpApiOptionsFor(config));
  if (config.tls) {
    Status tls = api.EnableTls((*ca)->server_key_pem(), (*ca)->server_chain_pem());
    if (!tls.ok()) return Fail(tls);
  }
  auto port = api.Bind(listen->host, listen->port);
  if (!port.ok()) return Fail(port.status());
  auto relay = StartRelay(config);
  if (!relay.ok()) return Fail(relay.status());
  directory.SetRelay(relay->get(), config.relay_address);

  {
    std::lock_guard<std::mutex> lock(api_mu);
    if (stop_requested) {
      StopHandlingSignals();
      return 0;
    }
    api_for_signals = &api;
  }

  spdlog::info("central {} listening on {}://{} (db {}, ports {}-{}, CA sha256 {})",
               P2PSHARE_VERSION, config.tls ? "https" : "http", JoinHostPort(listen->host, *port),
               RedactedStoreUrl(config.db), config.port_range.first, config.port_range.second,
               (*ca)->fingerprint());
  if (!config.tls) spdlog::warn("plain HTTP: passwords and tokens cross the network in clear text");
  bool ok = api.Run();
  StopHandlingSignals();  // before `api` and `directory` go away
  directory.Stop();
  spdlog::info("central stopped");
  return ok ? 0 : 1;
}
