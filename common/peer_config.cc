#include "common/peer_config.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "common/host_port.h"
#include "common/logging.h"
#include "common/names.h"
#include "common/small_files.h"
#include "common/x509.h"

namespace p2pshare {

void DescribePeerConfig(ConfigSchema& s, PeerConfig* c) {
  s.String("username", &c->username, "account this peer runs as");
  s.String("password", &c->password, "the account's password (or env P2PSHARE_PASSWORD, or password_file)");
  s.Path("password_file", &c->password_file,
         "file of mode 0600 holding the password on its first line (peer-client init writes one)");
  s.String("central_url", &c->central_url, "base URL of central, e.g. https://127.0.0.1:8080");
  s.Path("central_ca", &c->central_ca,
           "PEM file of central's CA (empty: pinned on first use)");
  s.String("central_ca_sha256", &c->central_ca_sha256,
           "SHA-256 of central's CA certificate, 64 hex digits (checked when set)");
  s.Bool("allow_plain_password", &c->allow_plain_password,
         "send the password over plain http:// to a host that is not loopback");
  s.String("advertise_host", &c->advertise_host,
           "peer-server: host other peers reach this peer at: an IP or DNS name, e.g. a NAT's public address "
           "(empty: the address central sees this peer's login come from)");
  s.String("listen_host", &c->listen_host,
           "peer-server: address its gRPC port listens on (empty: every interface, IPv4 and IPv6)");
  s.Path("shared_dir", &c->shared_dir, "folder whose files this peer shares");
  s.Path("download_dir", &c->download_dir, "folder downloads are written to");
  s.Int("max_storage_bytes", &c->max_storage_bytes,
        "peer-server: bytes the shared folder may hold with uploads", 0, INT64_MAX);
  s.StringList("friends", &c->friends, "primary and backup friend peers, host:port", 2);
  s.String("log_level", &c->log_level, "trace, debug, info, warn, error or off", LogLevelNames());
  s.String("log_format", &c->log_format, "text (one line an event) or json (one object a line)", LogFormatNames());
  s.String("metrics_listen", &c->metrics_listen,
           "peer-server: host:port serving GET /metrics (Prometheus); empty: off");
  s.Int("max_calls_per_peer", &c->max_calls_per_peer,
        "peer-server: calls one other peer may have in progress here", 1, 96);
  s.Int("locate_per_second", &c->locate_per_second,
        "peer-server: Locate queries one other peer may ask a second (0: no limit)", 0, 100000);
  s.Int("stall_timeout_s", &c->stall_timeout_s,
        "peer-server: seconds a transfer may go without progress before it is ended", 1, 86400);
  s.Int("upload_slots", &c->upload_slots,
        "peer-server: other peers downloading from here at once; the others wait in a queue "
        "and are told their place (0: no limit)", 0, 1000);
  s.Rate("max_upload_rate", &c->max_upload_rate,
         "peer-server: bytes a second all downloads from here share, e.g. \"2M\" (0: no limit)");
  s.Bool("port_mapping", &c->port_mapping,
         "peer-server: ask the router in front of it to forward its port (UPnP, NAT-PMP)");
}

Status FinishPeerConfig(PeerConfig* c, const char* env_password) {
  if (c->username.empty()) return InvalidArgument("key 'username' is required");
  Status user = CheckUsername(c->username);
  if (!user.ok()) return InvalidArgument("key 'username': " + user.message());
  if (!c->password.empty()) c->password_source = "the config's 'password'";
  if (c->password.empty() && env_password != nullptr && *env_password != '\0') {
    c->password = env_password;
    c->password_source = "P2PSHARE_PASSWORD";
  }
  if (c->password.empty() && !c->password_file.empty()) {
    c->password_source = "the password file " + c->password_file;
    struct stat st {};
    if (::stat(c->password_file.c_str(), &st) != 0) {
      return InvalidArgument("key 'password_file': cannot read " + c->password_file + ": " + std::strerror(errno));
    }
    if ((st.st_mode & 077) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      return InvalidArgument("key 'password_file': " + c->password_file + " can be read by others (mode " + mode +
                             "); run: chmod 600 " + c->password_file);
    }
    auto text = ReadSmallFile(c->password_file);
    if (!text.ok()) return InvalidArgument("key 'password_file': " + text.status().message());
    c->password = text->substr(0, text->find_first_of("\r\n"));
    if (c->password.empty()) return InvalidArgument("key 'password_file': " + c->password_file + " is empty");
  }
  Status url = ParseCentralUrl(c->central_url).status();
  if (!url.ok()) return InvalidArgument("key 'central_url': " + url.message());
  if (!c->central_ca_sha256.empty()) {
    for (char& ch : c->central_ca_sha256) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (!IsSha256Hex(c->central_ca_sha256)) {
      return InvalidArgument(
          "key 'central_ca_sha256' must be 64 hex digits: the 'CA sha256' line central logs when it starts");
    }
  }
  if (!c->advertise_host.empty() && !IsHostName(c->advertise_host)) {
    return InvalidArgument("key 'advertise_host' must be an IP address or a DNS name (IPv6 without brackets)");
  }
  if (!c->listen_host.empty() && !IsHostName(c->listen_host)) {
    return InvalidArgument("key 'listen_host' must be an IP address or a DNS name (IPv6 without brackets)");
  }
  if (c->shared_dir.empty()) return InvalidArgument("key 'shared_dir' must not be empty");
  if (c->download_dir.empty()) return InvalidArgument("key 'download_dir' must not be empty");
  for (const auto& f : c->friends) {
    Status ok = ParseHostPort(f).status();
    if (!ok.ok()) return InvalidArgument("key 'friends': " + ok.message());
  }
  if (!c->metrics_listen.empty()) {
    Status ok = ParseHostPort(c->metrics_listen, /*allow_any_port=*/true).status();
    if (!ok.ok()) return InvalidArgument("key 'metrics_listen': " + ok.message());
  }
  return Status::Ok();
}

namespace {
std::string FriendsPath(const std::string& shared_dir) { return shared_dir + "/.p2pshare/friends"; }
}  // namespace

std::vector<std::string> ReadSavedFriends(const std::string& shared_dir) {
  std::vector<std::string> out;
  std::ifstream in(FriendsPath(shared_dir));
  std::string line;
  while (std::getline(in, line) && out.size() < 2) {
    if (ParseHostPort(line).ok()) out.push_back(line);
  }
  return out;
}

Status SaveFriends(const std::string& shared_dir, const std::vector<std::string>& friends) {
  const std::string path = FriendsPath(shared_dir), tmp = path + ".new";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& f : friends) out << f << '\n';
    if (!out) return Internal("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Internal("cannot write " + path);
  return Status::Ok();
}

std::string CentralCaPinPath(const PeerConfig& config) {
  return config.shared_dir + "/.p2pshare/central-ca.pem";
}

Result<CentralTrust> PeerCentralTrust(const PeerConfig& config, const ConfirmCentralCa& confirm) {
  return ResolveCentralTrust(config.central_url, config.central_ca, config.central_ca_sha256,
                             CentralCaPinPath(config), confirm);
}

DirectoryClientOptions CentralClientOptions(const PeerConfig& config,
                                            const Result<CentralTrust>& trust,
                                            DirectoryClientOptions base) {
  if (trust.ok()) {
    base.ca_pem = trust->ca_pem;
    base.ca_source = trust->ca_source;
  } else {
    base.setup_error = trust.status();
  }
  base.allow_plain_password = config.allow_plain_password;
  return base;
}

std::vector<std::string> EffectiveFriends(const PeerConfig& config) {
  if (!config.friends.empty()) return config.friends;
  return ReadSavedFriends(config.shared_dir);
}

}  // namespace p2pshare

#include <cstdlib>

namespace p2pshare {

PeerConfigFlags::PeerConfigFlags(CLI::App& app, PeerConfig* config, PeerProgram program) : config_(config) {
  app.add_option("--config", path_, "JSON config file (flags beat the file)")->type_name("PATH");
  DescribePeerConfig(schema_, config_);
  schema_.NoFlag("password");  // a command line is there for anyone to read in `ps`
  std::function<bool(const std::string&)> include = nullptr;
  if (program == PeerProgram::kClient) {
    // The server's keys stay valid in the shared file, but are no flags of
    // peer-client (its --help lists what it uses).
    include = [this](const std::string& key) {
      for (const std::string& k : schema_.keys()) {
        if (k == key) return !schema_.Help(k).starts_with("peer-server:");
      }
      return true;
    };
  }
  schema_.AddFlags(app, include);
  UseHelpLayout(app, program == PeerProgram::kClient ? "peer-client [OPTIONS] [COMMAND [ARGS]]"
                                                     : "peer-server [OPTIONS]");
}

Status PeerConfigFlags::Load() {
  RETURN_IF_ERROR(schema_.Load(path_));
  if (!path_.empty()) {
    std::error_code ec;
    config_->config_path = std::filesystem::absolute(path_, ec).string();
  }
  return FinishPeerConfig(config_, std::getenv("P2PSHARE_PASSWORD"));
}

std::string LocalPeerHost(const PeerConfig& config) {
  const std::string& listen = config.listen_host;
  return listen.empty() || listen == "::" || listen == "0.0.0.0" ? "127.0.0.1" : listen;
}

}  // namespace p2pshare
