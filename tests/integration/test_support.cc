#include "integration/test_support.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "common/small_files.h"
#include "common/x509.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace p2pshare::testing {
namespace {
// A server closing a connection mid-request must fail the request, not kill
// the test process.
const bool kIgnoreSigpipe = [] {
  signal(SIGPIPE, SIG_IGN);
  return true;
}();
}  // namespace

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

Process::Process(std::vector<std::string> argv, std::string log_path, std::string stdin_path)
    : log_path_(std::move(log_path)) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    int null_fd = open(stdin_path.c_str(), O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, 0);
    execvp(args[0], args.data());  // PATH for tools (ip, tc)
    _exit(127);
  }
}

Process::~Process() {
  if (running()) {
    Signal(SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

bool Process::running() {
  if (pid_ <= 0 || exit_code_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return false;
}

void Process::Signal(int sig) {
  if (pid_ > 0 && !exit_code_) kill(pid_, sig);
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  WaitUntil([this] { return !running(); }, timeout);
  return exit_code_;
}

std::string Process::Log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

PtyProcess::PtyProcess(std::vector<std::string> argv, std::map<std::string, std::string> env) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  struct winsize size {};
  size.ws_row = 24;
  size.ws_col = 80;
  pid_ = ::forkpty(&master_, nullptr, nullptr, &size);
  if (pid_ == 0) {
    ::setenv("TERM", "xterm", 1);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    ::execv(args[0], args.data());
    std::perror("execv");
    ::_exit(127);
  }
  if (master_ >= 0) ::fcntl(master_, F_SETFL, ::fcntl(master_, F_GETFL) | O_NONBLOCK);
}

PtyProcess::~PtyProcess() {
  if (pid_ > 0 && running()) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (master_ >= 0) ::close(master_);
}

void PtyProcess::Type(const std::string& keys) {
  size_t at = 0;
  while (at < keys.size()) {
    ssize_t n = ::write(master_, keys.data() + at, keys.size() - at);
    if (n > 0) {
      at += static_cast<size_t>(n);
    } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
      return;
    } else {
      Read(10);  // its output is full: make room
    }
  }
}

void PtyProcess::Read(int timeout_ms) {
  pollfd p{master_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(master_, buf, sizeof buf);
    if (n <= 0) return;  // EAGAIN, or EIO once the child has gone
    out_.append(buf, static_cast<size_t>(n));
  }
}

bool PtyProcess::WaitFor(const std::string& text, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (size_t at = out_.find(text, matched_); at != std::string::npos) {
      matched_ = at + text.size();
      return true;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (!running() && out_.find(text, matched_) == std::string::npos) {
      Read(0);
      if (out_.find(text, matched_) == std::string::npos) return false;
      continue;
    }
    Read(static_cast<int>(std::min<int64_t>(left.count(), 100)));
  }
}

bool PtyProcess::WaitForLineEditor(std::chrono::milliseconds timeout) {
  return WaitUntil([this] {
    Read(0);
    termios t{};
    return ::tcgetattr(master_, &t) == 0 && (t.c_lflag & ICANON) == 0;
  }, timeout);
}

const std::string& PtyProcess::output() {
  Read(0);
  return out_;
}

std::string PtyProcess::unmatched() {
  Read(0);
  return out_.substr(matched_);
}

bool PtyProcess::running() {
  if (exit_code_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return false;
}

std::optional<int> PtyProcess::Wait(std::chrono::milliseconds timeout) {
  WaitUntil([this] {
    Read(0);
    return !running();
  }, timeout);
  Read(0);
  return exit_code_;
}

std::pair<int, std::string> RunToEnd(std::vector<std::string> argv, const std::string& log_path,
                                     const std::string& stdin_path) {
  Process p(std::move(argv), log_path, stdin_path);
  auto code = p.Wait(std::chrono::seconds(30));
  return {code.value_or(-1), p.Log()};
}

namespace {

// Starts `argv` with a fresh log `<log_stem>-N.log` and waits until the log
// shows `ready` (whose first group is the port) or the program exits.
// Returns the port, or an error with the log.
Result<int> StartAndWaitForPort(std::vector<std::string> argv, const std::filesystem::path& log_stem,
                                int* starts, const std::regex& ready,
                                std::unique_ptr<Process>* process) {
  std::string log_path;
  do {  // a fresh log per start, also across objects sharing one folder
    log_path = log_stem.string() + "-" + std::to_string(++*starts) + ".log";
  } while (std::filesystem::exists(log_path));
  *process = std::make_unique<Process>(std::move(argv), log_path);
  std::smatch m;
  std::string log;
  WaitUntil(
      [&] {
        log = (*process)->Log();
        return std::regex_search(log, m, ready) || !(*process)->running();
      },
      std::chrono::seconds(20));
  if (!std::regex_search(log, m, ready)) {
    return Internal(log_stem.filename().string() + " did not start:\n" + log);
  }
  return std::stoi(m[1].str());
}

}  // namespace

CentralProcess::CentralProcess(std::filesystem::path dir, Json overrides)
    : dir_(std::move(dir)) {
  config_ = Json{{"listen", "127.0.0.1:0"},
                 {"db", (dir_ / "central.db").string()},
                 {"heartbeat_interval_s", 1},
                 {"session_ttl_s", 3},
                 {"log_level", "info"}};
  for (auto it = overrides.begin(); it != overrides.end(); ++it) config_[it.key()] = it.value();
}

CentralProcess::~CentralProcess() = default;

Status CentralProcess::Start() {
  if (port_ != 0) config_["listen"] = "127.0.0.1:" + std::to_string(port_);
  std::string config_path = (dir_ / "central.json").string();
  std::ofstream(config_path) << config_.dump(2);
  static const std::regex kListening(R"(listening on https?://127\.0\.0\.1:(\d+))");
  ASSIGN_OR_RETURN(port_, StartAndWaitForPort({CENTRAL_BIN, "--config", config_path},
                                              dir_ / "central", &starts_, kListening, &process_));
  auto client = Client();
  if (!WaitUntil([&] { return client->Health().ok(); }, std::chrono::seconds(10))) {
    return Internal("central does not answer /healthz:\n" + process_->Log());
  }
  return Status::Ok();
}

void CentralProcess::Kill9() {
  if (!process_) return;
  process_->Signal(SIGKILL);
  process_->Wait(std::chrono::seconds(10));
}

std::optional<int> CentralProcess::Stop() {
  if (!process_) return std::nullopt;
  process_->Signal(SIGTERM);
  return process_->Wait(std::chrono::seconds(10));
}

std::string CentralProcess::url() const {
  return std::string(tls() ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

std::unique_ptr<httplib::Client> CentralProcess::Http() const {
  auto c = std::make_unique<httplib::Client>(url());
  if (tls()) {
    c->set_ca_cert_path(ca_file());
    c->enable_server_certificate_verification(true);
  }
  c->set_read_timeout(std::chrono::seconds(10));
  return c;
}

std::string CentralProcess::RawExchange(const std::string& request) const {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return out;
  }
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  if (tls()) {
    ctx = SSL_CTX_new(TLS_client_method());
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) {
      SSL_free(ssl);
      SSL_CTX_free(ctx);
      ::close(fd);
      return out;
    }
  }
  auto send_all = [&](const std::string& data) {
    if (ssl) return SSL_write(ssl, data.data(), static_cast<int>(data.size())) == static_cast<int>(data.size());
    return ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  };
  if (send_all(request)) {
    char buf[4096];
    for (;;) {
      ssize_t n = ssl ? SSL_read(ssl, buf, sizeof buf) : ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
      if (out.find("\r\n\r\n") != std::string::npos && out.find('}') != std::string::npos) break;
    }
  }
  if (ssl) {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  ::close(fd);
  return out;
}

std::string CentralProcess::ca_file() const { return (dir_ / "ca" / "ca.pem").string(); }

std::unique_ptr<DirectoryClient> CentralProcess::Client() const {
  DirectoryClientOptions o;
  o.timeout = std::chrono::seconds(10);
  if (tls()) {
    auto ca = ReadSmallFile(ca_file());
    o.ca_pem = ca.ok() ? *ca : "";
    o.ca_source = ca_file();
  }
  return std::make_unique<DirectoryClient>(url(), o);
}

std::pair<int, int> TestPortRange(int span) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "none";
  size_t h = std::hash<std::string>{}(name);
  // Below Linux's ephemeral ports (32768-60999), which outgoing connections use.
  int base = 20000 + static_cast<int>(h % 600) * span;
  return {base, base + span - 1};
}

PeerServerProcess::PeerServerProcess(std::filesystem::path dir, std::string username,
                                     const CentralProcess& central, Json overrides)
    : dir_(std::move(dir)), username_(std::move(username)) {
  shared_ = dir_ / username_ / "shared";
  std::filesystem::create_directories(shared_);
  config_ = Json{{"username", username_},
                 {"password", username_ + "-password"},
                 {"central_url", central.url()},
                 {"central_ca", central.tls() ? central.ca_file() : ""},
                 {"advertise_host", "127.0.0.1"},
                 {"listen_host", "127.0.0.1"},  // tests serve on loopback only
                 {"shared_dir", shared_.string()},
                 {"download_dir", (dir_ / username_ / "downloads").string()},
                 {"log_level", "info"}};
  for (auto it = overrides.begin(); it != overrides.end(); ++it) config_[it.key()] = it.value();
}

Status PeerServerProcess::Start() {
  std::string config_path = (dir_ / username_ / "peer.json").string();
  std::ofstream(config_path) << config_.dump(2);
  static const std::regex kServing(R"(serving \d+ files? on 127\.0\.0\.1:(\d+))");
  ASSIGN_OR_RETURN(port_, StartAndWaitForPort({PSERVER_BIN, "--config", config_path},
                                              dir_ / username_ / "peer-server", &starts_, kServing,
                                              &process_));
  return Status::Ok();
}

Result<LoginReply> RegisterAndLogin(DirectoryClient& client, const std::string& username) {
  auto reg = client.Register(username, username + "-password");
  if (!reg.ok() && reg.status().reason() != "username_taken") return reg.status();
  return client.Login(LoginRequest{username, username + "-password", std::nullopt, std::nullopt, {}});
}

TestMember::TestMember(const CentralProcess& central, const std::filesystem::path& dir,
                       const std::string& username)
    : client_(central.Client()) {
  const std::string folder = (dir / (username + "-member")).string();
  std::filesystem::create_directories(folder);
  identity_ = PeerIdentityIn(folder);
  auto key = LoadOrCreatePrivateKey(identity_.key_file);
  if (!key.ok()) {
    status_ = key.status();
    return;
  }
  auto reg = client_->Register(username, username + "-password");
  if (!reg.ok() && reg.status().reason() != "username_taken") {
    status_ = reg.status();
    return;
  }
  auto login = client_->Login(LoginRequest{username, username + "-password", std::nullopt,
                                           std::nullopt, {}, *MakeCsr(*key, "peer/" + username)});
  if (!login.ok()) {
    status_ = login.status();
    return;
  }
  login_ = *login;
  status_ = WriteFileAtomically(identity_.cert_file, login_.certificate, 0644);
  if (status_.ok()) status_ = WriteFileAtomically(identity_.ca_file, login_.ca, 0644);
  keep_alive_ = std::make_unique<KeepAlive>(client_.get());
}

TestMember::~TestMember() = default;

std::string TestMember::serial() const {
  auto info = ReadCertificate(login_.certificate);
  return info.ok() ? info->serial : "";
}

void KeepAlive::Loop() {
  while (!WaitUntil([this] { return stop_.load(); }, std::chrono::milliseconds(500))) {
    (void)client_->Heartbeat();
  }
}

int64_t PeakRssBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // kB
  }
  return -1;
}

}  // namespace p2pshare::testing

namespace p2pshare::testing {

Result<std::unique_ptr<ScopedTmpfs>> ScopedTmpfs::Mount(const std::filesystem::path& path,
                                                        const std::string& size, unsigned long flags) {
  std::filesystem::create_directories(path);
  const std::string options = "size=" + size;
  if (::mount("tmpfs", path.c_str(), "tmpfs", flags, options.c_str()) != 0) {
    return Unavailable("cannot mount a tmpfs here: " + std::string(std::strerror(errno)));
  }
  return std::unique_ptr<ScopedTmpfs>(new ScopedTmpfs(path));
}

void ScopedTmpfs::Unmount() {
  if (path_.empty()) return;
  ::umount2(path_.c_str(), MNT_DETACH);
  path_.clear();
}

std::string WriteClientConfig(const std::filesystem::path& dir, const std::string& user,
                              const CentralProcess& central) {
  std::filesystem::create_directories(dir / user / "shared");
  std::string path = (dir / user / "client.json").string();
  std::ofstream(path) << Json{{"username", user},
                              {"password", user + "-password"},
                              {"central_url", central.url()},
                              {"central_ca", central.ca_file()},
                              {"shared_dir", (dir / user / "shared").string()},
                              {"download_dir", (dir / user / "downloads").string()}}
                             .dump(2);
  return path;
}

}  // namespace p2pshare::testing
