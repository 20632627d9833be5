#include "pclient/init.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/config.h"
#include "common/peer_config.h"
#include "common/small_files.h"
#include "common/unique_fd.h"
#include "common/x509.h"
#include "pclient/format.h"
#include "pclient/peer_client.h"

namespace p2pshare::pclient {
namespace {

namespace fs = std::filesystem;

int Fail(const std::string& message, int code = kExitFailed) {
  std::cerr << "peer-client init: " << Printable(message) << "\n";
  return code;
}

// A line typed at the terminal; `fallback` when it is left empty.
std::string Ask(const std::string& question, const std::string& fallback) {
  std::cerr << question << (fallback.empty() ? "" : " [" + fallback + "]") << ": " << std::flush;
  std::string line;
  if (!std::getline(std::cin, line)) return fallback;
  line.erase(0, line.find_first_not_of(" \t"));
  line.erase(line.find_last_not_of(" \t\r") + 1);
  return line.empty() ? fallback : line;
}

// `path` as the config names it: relative paths resolve against its folder.
std::string Resolved(const fs::path& config_dir, const std::string& path) {
  fs::path p(path);
  return (p.is_absolute() ? p : config_dir / p).lexically_normal().string();
}

// Creates `path` with `contents` and mode 0600; AlreadyExists unless `replace`.
Status WriteSecretFile(const std::string& path, const std::string& contents, bool replace) {
  if (replace) ::unlink(path.c_str());
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) {
    if (errno == EEXIST) return AlreadyExists(path + " exists; move it away or add --force");
    return Internal("cannot write " + path + ": " + std::strerror(errno));
  }
  ::fchmod(fd.get(), 0600);  // whatever the umask
  if (::write(fd.get(), contents.data(), contents.size()) != static_cast<ssize_t>(contents.size())) {
    return Internal("cannot write " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

// What init is told, by flags or on the terminal.
struct InitAnswers {
  std::string central_url, username, shared, downloads;
  bool register_account = false, force = false;
};

// Parses init's flags; nullopt when it should end now, with *exit (after
// --help, or a flag that does not parse).
std::optional<InitAnswers> ParseInit(const std::vector<std::string>& args, int* exit) {
  CLI::App app{"writes a peer config, checks the account with central and pins central's CA", "peer-client init"};
  InitAnswers a;
  UseHelpLayout(app, "peer-client init [OPTIONS]");
  app.add_option("--central-url", a.central_url, "central's URL (default https://127.0.0.1:8080)");
  app.add_option("--username", a.username, "the account (default: $USER)");
  app.add_option("--shared-dir", a.shared, Wrap("the folder to share (default: shared, beside the config)", 50));
  app.add_option("--download-dir", a.downloads, Wrap("where downloads go (default: downloads, beside the config)", 50));
  app.add_flag("--register", a.register_account, "create the account on central first");
  app.add_flag("--force", a.force, "replace an existing config and password file");
  app.footer(Wrap("The password is typed (without echo), or read from P2PSHARE_PASSWORD or the first line of "
                  "standard input; never a flag.", 79));
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    *exit = kExitOk;
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    *exit = Fail(std::string(e.what()) + "; see 'peer-client init --help'", kExitUsage);
    return std::nullopt;
  }
  return a;
}

// Fills in what the flags left out: asked on a terminal, else the defaults.
void AskWhatIsMissing(InitAnswers& a, bool tty, const fs::path& config) {
  const char* user_env = std::getenv("USER");
  if (tty) {
    std::cerr << "Setting up a peer: its config goes to " << config.string() << "\n";
    if (a.central_url.empty()) a.central_url = Ask("central's URL", "https://127.0.0.1:8080");
    if (a.username.empty()) a.username = Ask("account", user_env != nullptr ? user_env : "");
    if (a.shared.empty()) a.shared = Ask("folder to share", "shared");
    if (a.downloads.empty()) a.downloads = Ask("folder for downloads", "downloads");
    return;
  }
  if (a.central_url.empty()) a.central_url = "https://127.0.0.1:8080";
  if (a.username.empty() && user_env != nullptr) a.username = user_env;
  if (a.shared.empty()) a.shared = "shared";
  if (a.downloads.empty()) a.downloads = "downloads";
}

// The config the answers make, checked as any config is; an error names
// the flag ("--central-url: ..."), not the key.
Result<PeerConfig> ConfigFor(const InitAnswers& a, const fs::path& config) {
  PeerConfig cfg;
  cfg.username = a.username;
  cfg.central_url = a.central_url;
  cfg.shared_dir = Resolved(config.parent_path(), a.shared);
  cfg.download_dir = Resolved(config.parent_path(), a.downloads);
  cfg.config_path = config.string();
  Status s = FinishPeerConfig(&cfg, nullptr);
  if (s.ok()) return cfg;
  std::string m = s.message();  // "key 'central_url': ..." -> "--central-url: ..."
  for (const char* key : {"username", "central_url", "shared_dir", "download_dir"}) {
    std::string flag = std::string("--") + key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    if (size_t at = m.find(std::string("key '") + key + "'"); at != std::string::npos) {
      m.replace(at, std::strlen(key) + 6, flag);
    }
  }
  return InvalidArgument(m);
}

// The password: from the environment, typed (twice for a new account), or
// the first line of standard input.
Status ReadInitPassword(PeerConfig& cfg, const InitAnswers& a, bool tty) {
  if (const char* env = std::getenv("P2PSHARE_PASSWORD"); env != nullptr && *env != '\0') {
    cfg.password = env;
  } else if (tty) {
    cfg.password = ReadSecret(a.register_account ? "new password for " + a.username + ": "
                                                 : "password of " + a.username + ": ",
                              std::cerr);
    if (a.register_account && ReadSecret("again: ", std::cerr) != cfg.password) {
      return InvalidArgument("the passwords differ");
    }
  } else {
    std::getline(std::cin, cfg.password);
    if (!cfg.password.empty() && cfg.password.back() == '\r') cfg.password.pop_back();
  }
  if (cfg.password.empty()) return InvalidArgument("no password (type one, or set P2PSHARE_PASSWORD)");
  return Status::Ok();
}

// Registers (if asked) and logs in at central, pinning its CA on the way;
// on a terminal its fingerprint is shown, and agreed to, before the
// password leaves.
Status CheckAccount(const PeerConfig& cfg, const InitAnswers& a, bool tty) {
  std::ostringstream quiet;
  PeerClientOptions asking;
  if (tty) {
    asking.confirm_central_ca = [&](const std::string& fingerprint) {
      return ConfirmOnTerminal(a.central_url, fingerprint, std::cin, std::cerr);
    };
  }
  PeerClient client(cfg, asking, quiet, std::cerr);
  if (a.register_account) {
    Status reg = client.RunLine("register");
    if (!reg.ok() && reg.reason() != "username_taken") return reg;
    if (reg.ok()) std::cerr << "registered account " << a.username << "\n";
  }
  Status login = client.RunLine("login");
  if (login.ok() || login.reason() != "bad_credentials") return login;
  return Unauthenticated("central does not know that account and password; a new account? add --register");
}

// Writes the password file and the config (with central's CA fingerprint,
// when one was pinned), and says what to run next.
Status WriteInitFiles(const PeerConfig& cfg, const InitAnswers& a, const fs::path& config) {
  const fs::path password_path = config.parent_path() / (config.stem().string() + ".password");
  nlohmann::json j{{"username", a.username},       {"central_url", a.central_url}, {"shared_dir", a.shared},
                   {"download_dir", a.downloads}, {"password_file", password_path.filename().string()}};
  std::string fingerprint;
  if (auto pinned = ReadSmallFile(CentralCaPinPath(cfg)); pinned.ok()) {
    if (auto ca = ReadCertificate(*pinned); ca.ok()) fingerprint = ca->fingerprint;
  }
  if (!fingerprint.empty()) j["central_ca_sha256"] = fingerprint;
  RETURN_IF_ERROR(WriteSecretFile(password_path.string(), cfg.password + "\n", a.force));
  RETURN_IF_ERROR(WriteFileAtomically(config.string(), j.dump(2) + "\n", 0644));
  std::cout << "wrote " << config.string() << " (the password is in " << password_path.string()
            << ", mode 0600, not in the config)\n";
  if (!fingerprint.empty()) {
    std::cout << "central's CA: sha256 " << fingerprint << "\n  pinned in " << CentralCaPinPath(cfg)
              << "; compare it with the 'CA sha256' central printed when it started\n";
  }
  std::cout << "next, in two terminals:\n"
            << "  peer-server --config " << ShellWord(config.string()) << "    # shares " << cfg.shared_dir << "\n"
            << "  peer-client --config " << ShellWord(config.string()) << "    # search, download, upload\n";
  return Status::Ok();
}

}  // namespace

int RunInit(const std::vector<std::string>& args, std::string config_path) {
  int exit = kExitOk;
  std::optional<InitAnswers> answers = ParseInit(args, &exit);
  if (!answers) return exit;
  if (config_path.empty()) config_path = "peer.json";
  std::error_code ec;
  const fs::path config = fs::absolute(config_path, ec).lexically_normal();
  if (fs::exists(config, ec) && !answers->force) {
    return Fail(config.string() + " exists already; use it (peer-client --config " + ShellWord(config.string()) +
                "), or add --force to write it again");
  }
  const bool tty = ::isatty(STDIN_FILENO);
  AskWhatIsMissing(*answers, tty, config);
  Result<PeerConfig> cfg = ConfigFor(*answers, config);
  if (!cfg.ok()) return Fail(cfg.status().message(), kExitUsage);
  if (Status s = ReadInitPassword(*cfg, *answers, tty); !s.ok()) return Fail(s.message());
  for (const std::string& dir : {cfg->shared_dir, cfg->download_dir}) {
    fs::create_directories(dir, ec);
    if (ec) return Fail("cannot create " + dir + ": " + ec.message());
  }
  if (Status s = CheckAccount(*cfg, *answers, tty); !s.ok()) return Fail(s.message());
  if (Status s = WriteInitFiles(*cfg, *answers, config); !s.ok()) return Fail(s.message());
  return kExitOk;
}

}  // namespace p2pshare::pclient
