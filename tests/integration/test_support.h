// Support for integration tests: real processes in temp folders, waits on
// log lines and health checks (never fixed sleeps), stop by pid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/directory_client.h"
#include "common/json_fields.h"
#include "common/status.h"
#include "unit/test_dir.h"

namespace p2pshare::testing {

// Polls `done` every 20 ms until it holds or `timeout` passes; returns its
// last value.
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);

// A child process whose stdout and stderr go to a log file. Killed with
// SIGKILL on destruction if still running.
class Process {
 public:
  Process(std::vector<std::string> argv, std::string log_path);
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

// Runs a program to completion; returns {exit code, combined output}.
std::pair<int, std::string> RunToEnd(std::vector<std::string> argv, const std::string& log_path);

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
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return process_ ? process_->Log() : ""; }
  std::unique_ptr<DirectoryClient> Client() const;

 private:
  std::filesystem::path dir_;
  Json config_;
  int port_ = 0;
  int starts_ = 0;
  std::unique_ptr<Process> process_;
};

// Registers `username` (password username + "-password") and logs in.
Result<LoginReply> RegisterAndLogin(DirectoryClient& client, const std::string& username);

}  // namespace p2pshare::testing
