// Support for integration tests: real processes in temp folders, waits on
// log lines and health checks (never fixed sleeps), stop by pid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <atomic>
#include <thread>
#include <string>
#include <vector>

#include "common/directory_client.h"
#include "common/peer_channel.h"
#include "common/json_fields.h"
#include "common/status.h"
#include "unit/free_port.h"
#include "unit/test_dir.h"

namespace httplib {
class Client;
}

namespace p2pshare::testing {

// How many times slower the programs run in a sanitizer build (ASan + UBSan,
// or TSan): tests bounded by time scale their sizes or timeouts by it, and a
// normal build (1) asserts exactly what it always did.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr int kSanitizerSlowdown = 4;
#else
inline constexpr int kSanitizerSlowdown = 1;
#endif

// Polls `done` every 20 ms until it holds or `timeout` passes; returns its
// last value.
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);

// A child process whose stdout and stderr go to a log file. Killed with
// SIGKILL on destruction if still running.
class Process {
 public:
  // stdout and stderr go to `log_path`; stdin comes from `stdin_path`.
  Process(std::vector<std::string> argv, std::string log_path,
          std::string stdin_path = "/dev/null");
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void Signal(int sig);
  // The exit code (128+signal when killed), or nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string log_path_;
};

// A child process on a pseudo-terminal of its own (its stdin, stdout and
// stderr; 80x24, TERM=xterm), as a person at a terminal runs it: keys go
// in with Type, the screen's bytes come out. SIGKILL on destruction.
class PtyProcess {
 public:
  // `env` is added to (or replaces in) this process's environment.
  PtyProcess(std::vector<std::string> argv, std::map<std::string, std::string> env = {});
  ~PtyProcess();
  PtyProcess(const PtyProcess&) = delete;
  PtyProcess& operator=(const PtyProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Writes keys as typed ("\x03" is Ctrl-C, "\x04" Ctrl-D, "\t" Tab).
  void Type(const std::string& keys);
  // Reads the output until `text` appears after the end of the previous
  // match (which then moves past it), or `timeout` passes.
  bool WaitFor(const std::string& text, std::chrono::milliseconds timeout);
  // Waits until the program reads the terminal key by key (a line editor
  // at its prompt: canonical mode off). Keys typed before that may be
  // flushed when the editor switches modes, as a person never notices.
  bool WaitForLineEditor(std::chrono::milliseconds timeout);
  // Everything it has written so far.
  const std::string& output();
  // Everything since the end of the previous match.
  std::string unmatched();
  bool running();
  // The exit code (128+signal when killed), or nullopt on timeout; reads
  // the output meanwhile, so the child never blocks writing it.
  std::optional<int> Wait(std::chrono::milliseconds timeout);

 private:
  void Read(int timeout_ms);
  pid_t pid_ = -1;
  int master_ = -1;
  std::string out_;
  size_t matched_ = 0;
  std::optional<int> exit_code_;
};

class CentralProcess;
// Writes <dir>/<user>/client.json, a peer-client config for `user` (password
// user + "-password") against `central`, sharing <dir>/<user>/shared
// (created) and downloading into <dir>/<user>/downloads; returns its path.
std::string WriteClientConfig(const std::filesystem::path& dir, const std::string& user,
                              const CentralProcess& central);

// Runs a program to completion; returns {exit code, combined output}.
std::pair<int, std::string> RunToEnd(std::vector<std::string> argv, const std::string& log_path,
                                     const std::string& stdin_path = "/dev/null");

// The real `central` binary on 127.0.0.1 with its database and config in
// `dir`. The first Start() takes any free port; later ones reuse it, so
// clients keep working across a restart.
class CentralProcess {
 public:
  // `overrides` are config keys laid over the test defaults (short TTL).
  CentralProcess(std::filesystem::path dir, Json overrides = Json::object());
  ~CentralProcess();

  // Starts central and waits for its "listening on" line and /healthz.
  Status Start();
  // kill -9, and reap it.
  void Kill9();
  // SIGTERM; returns the exit code.
  std::optional<int> Stop();

  int port() const { return port_; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  // https:// unless the overrides said "tls": false.
  std::string url() const;
  bool tls() const { return !config_.contains("tls") || config_["tls"].get<bool>(); }
  // The network's CA, which central makes in its folder.
  std::string ca_file() const;
  std::string log() const { return process_ ? process_->Log() : ""; }
  std::unique_ptr<DirectoryClient> Client() const;
  // A cpp-httplib client of central (for raw requests), trusting its CA
  // when it serves HTTPS.
  std::unique_ptr<httplib::Client> Http() const;
  // Sends `request` bytes on a new connection (through TLS when central
  // serves it) and returns what comes back until central closes, a whole
  // JSON reply has come, or 2 s pass.
  std::string RawExchange(const std::string& request) const;

 private:
  std::filesystem::path dir_;
  Json config_;
  int port_ = 0;
  int starts_ = 0;
  std::unique_ptr<Process> process_;
};

// A port range of `span` ports for the running test, derived from its name,
// so tests running in parallel never hand out the same peer ports.
std::pair<int, int> TestPortRange(int span = 20);

// The real `peer-server` binary for account `username` (password
// username + "-password"), sharing `dir`/<username>/shared.
class PeerServerProcess {
 public:
  // Trusts `central`'s CA by its file (central_ca), as a class would
  // hand it out; the trust-on-first-use path has tests of its own.
  PeerServerProcess(std::filesystem::path dir, std::string username,
                    const CentralProcess& central, Json overrides = Json::object());
  // Starts it and waits for its "serving ... on 127.0.0.1:PORT" line.
  Status Start();
  void Signal(int sig) { if (process_) process_->Signal(sig); }
  std::optional<int> Wait(std::chrono::milliseconds timeout) {
    return process_ ? process_->Wait(timeout) : std::nullopt;
  }
  bool running() { return process_ && process_->running(); }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  int port() const { return port_; }
  std::string log() const { return process_ ? process_->Log() : ""; }
  const std::filesystem::path& shared_dir() const { return shared_; }
  const std::string& username() const { return username_; }

 private:
  std::filesystem::path dir_;
  std::string username_;
  std::filesystem::path shared_;
  Json config_;
  int port_ = 0;
  int starts_ = 0;
  std::unique_ptr<Process> process_;
};

// A tmpfs of `size` bytes ("12m") mounted on `path` (created), unmounted
// on destruction or by Unmount(): a small disk to fill. Mounting needs
// root; Mount says why it could not.
class ScopedTmpfs {
 public:
  // `flags`: mount(2)'s (MS_RDONLY: a folder nobody may write in, root included).
  static Result<std::unique_ptr<ScopedTmpfs>> Mount(const std::filesystem::path& path,
                                                   const std::string& size, unsigned long flags = 0);
  ~ScopedTmpfs() { Unmount(); }
  ScopedTmpfs(const ScopedTmpfs&) = delete;
  ScopedTmpfs& operator=(const ScopedTmpfs&) = delete;
  void Unmount();

 private:
  explicit ScopedTmpfs(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;  // empty once unmounted
};

// The peak resident memory of process `pid` in bytes (VmHWM), or -1.
int64_t PeakRssBytes(pid_t pid);

// Registers `username` (password username + "-password") and logs in.
Result<LoginReply> RegisterAndLogin(DirectoryClient& client, const std::string& username);

// A member of the network as a test client: `username` registered and
// logged in with a certificate request for a key of its own; its key, its
// certificate and the network's CA in <dir>/<username>-member/. The session
// is kept alive (heartbeats) while the object lives.
class TestMember {
 public:
  TestMember(const CentralProcess& central, const std::filesystem::path& dir,
             const std::string& username);
  ~TestMember();
  // OK when the member could join; else why not.
  const Status& status() const { return status_; }
  const PeerIdentity& identity() const { return identity_; }
  const LoginReply& login() const { return login_; }
  DirectoryClient& client() { return *client_; }
  // The serial of its certificate.
  std::string serial() const;

 private:
  Status status_;
  PeerIdentity identity_;
  LoginReply login_;
  std::unique_ptr<DirectoryClient> client_;
  std::unique_ptr<class KeepAlive> keep_alive_;
};

// Heartbeats for a client session in the background (every 0.5 s) while
// it lives, as a running peer would.
class KeepAlive {
 public:
  explicit KeepAlive(DirectoryClient* client) : client_(client), thread_([this] { Loop(); }) {}
  ~KeepAlive() {
    stop_ = true;
    thread_.join();
  }

 private:
  void Loop();
  DirectoryClient* client_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace p2pshare::testing
