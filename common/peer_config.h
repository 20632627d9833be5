// The configuration of a peer (docs/protocol.md, "Configuration"), read by
// both peer-server and peer-client from the same file (config/peer1.json ...).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/central_trust.h"
#include "common/config.h"
#include "common/directory_client.h"
#include "common/status.h"

namespace p2pshare {

struct PeerConfig {
  std::string username;
  std::string password;  // or the environment variable P2PSHARE_PASSWORD, or password_file
  std::string password_file;  // a file of mode 0600 whose first line is the password
  // Where the password came from, for a person told it was refused: "the
  // config's 'password'", "P2PSHARE_PASSWORD" or "the password file F"
  // (set by FinishPeerConfig; never the password itself).
  std::string password_source;
  std::string central_url = "https://127.0.0.1:8080";
  std::string central_ca;         // a PEM file with central's CA; empty: pinned on first use
  std::string central_ca_sha256;  // the CA's SHA-256, checked when set
  bool allow_plain_password = false;  // send the password over http:// beyond loopback
  std::string advertise_host;  // empty: the address central sees the login come from
  std::string listen_host;     // peer-server; empty: every interface, IPv4 and IPv6
  std::string shared_dir = "data/peer/shared";
  std::string download_dir = "data/peer/downloads";
  int64_t max_storage_bytes = int64_t{10} << 30;  // 10 GiB
  std::vector<std::string> friends;  // [primary, backup] host:port
  std::string log_level = "info";
  std::string log_format = "text";  // or "json"
  std::string metrics_listen;  // peer-server: host:port for GET /metrics; empty: none
  // peer-server's limits per calling peer (docs/protocol.md, "Limits").
  int64_t max_calls_per_peer = 8;    // Download, Upload, ListFiles, Locate at once
  int64_t locate_per_second = 5;     // Locate queries of one peer (burst: twice)
  int64_t stall_timeout_s = 30;      // a transfer without progress this long is ended
  int64_t upload_slots = 4;          // other peers served at once; the rest queue (0: no limit)
  int64_t max_upload_rate = 0;       // bytes a second all downloads from here share (0: no limit)
  bool port_mapping = true;          // ask the router to forward the port (UPnP, NAT-PMP)
  // Not a key: the config file this was read from (absolute; empty: none),
  // for messages that say which command to run next.
  std::string config_path;
};

// Registers every key of `config` (which holds the defaults) on `schema`.
void DescribePeerConfig(ConfigSchema& schema, PeerConfig* config);

// A peer's friends: the configured ones; without them, the last ones
// central suggested, which peer-server keeps in <shared_dir>/.p2pshare/friends
// (one host:port a line) for itself and for peer-client.
std::vector<std::string> EffectiveFriends(const PeerConfig& config);
// The host this machine's peer-server of `config` answers at from this
// machine (listen_host, or loopback when it listens on every interface):
// its own processes reach it there even when its listed address, behind a
// router, cannot be reached from inside.
std::string LocalPeerHost(const PeerConfig& config);
std::vector<std::string> ReadSavedFriends(const std::string& shared_dir);
Status SaveFriends(const std::string& shared_dir, const std::vector<std::string>& friends);

// Where a peer pins central's CA on first use: <shared_dir>/.p2pshare/central-ca.pem.
std::string CentralCaPinPath(const PeerConfig& config);
// ResolveCentralTrust (common/central_trust.h) for this peer's config.
Result<CentralTrust> PeerCentralTrust(const PeerConfig& config, const ConfirmCentralCa& confirm = nullptr);
// `base` made to trust `trust` (or to answer its error on every call),
// with the config's rule for plain passwords.
DirectoryClientOptions CentralClientOptions(const PeerConfig& config,
                                            const Result<CentralTrust>& trust,
                                            DirectoryClientOptions base = {});

// Checks after loading: a username, an http(s) central_url, host:port friends.
// Takes the password from `env_password` (P2PSHARE_PASSWORD) when the config
// has none, else from `password_file` — refused (InvalidArgument saying
// the chmod to run) when others may read that file. InvalidArgument naming
// the key.
Status FinishPeerConfig(PeerConfig* config, const char* env_password);

}  // namespace p2pshare

namespace p2pshare {

// The command-line side of a peer config: `--config FILE` plus a flag for
// every key. Construct before app.parse(); call Load() after it.
enum class PeerProgram { kServer, kClient };

class PeerConfigFlags {
 public:
  // peer-client gets no flags for keys only peer-server reads.
  PeerConfigFlags(CLI::App& app, PeerConfig* config, PeerProgram program);
  // Reads the file, applies the flags, then FinishPeerConfig() with the
  // environment's P2PSHARE_PASSWORD.
  Status Load();
  // The --config value as given (empty: none).
  const std::string& path() const { return path_; }

 private:
  PeerConfig* config_;
  ConfigSchema schema_;
  std::string path_;
};

}  // namespace p2pshare
