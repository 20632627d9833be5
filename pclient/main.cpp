// peer-client: the REPL and one-shot CLI of one peer (docs/protocol.md).
//   peer-client --config F                 the REPL (a terminal)
//   peer-client --config F <command> ...   one command, then exit
//   peer-client --config F < script        commands from standard input
// Exit status 0 on success; otherwise 1 with a one-line error on stderr
// (2 for a command line or config that does not parse; docs/protocol.md,
// "Exit codes"). With --json (anywhere on the line) the error is a JSON
// object on stderr: {"error": {"message", "reason", "exit_code"}}.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/heap.h"
#include "common/peer_channel.h"
#include "common/logging.h"
#include "common/peer_config.h"
#include "pclient/command_line.h"
#include "pclient/format.h"
#include "pclient/init.h"
#include "pclient/peer_client.h"
#include "pclient/repl.h"

namespace {

using p2pshare::Status;
using p2pshare::pclient::PeerClient;

bool g_json = false;  // --json: errors as JSON objects too

// One line on stderr, safe for a terminal (messages may quote other peers);
// a JSON object with --json.
void Complain(const std::string& message, const std::string& reason = "",
              int exit_code = p2pshare::kExitFailed) {
  if (g_json) {
    nlohmann::json j{{"error", {{"message", message}, {"reason", reason}, {"exit_code", exit_code}}}};
    std::fprintf(stderr, "%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return;
  }
  std::fprintf(stderr, "peer-client: %s\n", p2pshare::pclient::Printable(message).c_str());
}

int Fail(const Status& s, int exit_code = p2pshare::kExitFailed) {
  Complain(s.message(), s.reason(), exit_code);
  return exit_code;
}

// `login` happens on start when the config has credentials, unless the
// first command needs none first (the command table's login_first).
Status LoginBefore(PeerClient& client, const std::string& first_word) {
  const p2pshare::pclient::CommandSpec* spec = p2pshare::pclient::FindCommand(first_word);
  if (spec != nullptr && !spec->login_first) return Status::Ok();
  return client.AutoLogin();
}

// One command from the command line, then exit.
int RunOneShot(PeerClient& client, const std::vector<std::string>& words) {
  auto cmd = p2pshare::pclient::ParseCommand(words);
  if (!cmd.ok()) return Fail(cmd.status(), p2pshare::kExitUsage);
  Status login = LoginBefore(client, cmd->name);
  if (!login.ok()) return Fail(login);
  Status s = client.Run(*cmd);
  return s.ok() ? 0 : Fail(s);
}

// Commands from standard input, one a line; a failing line is reported
// and the rest still run.
int RunScript(PeerClient& client) {
  std::string line;
  int failures = 0, number = 0;
  bool logged_in_tried = false;
  while (!client.quit_requested() && std::getline(std::cin, line)) {
    ++number;
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;  // blank or comment
    if (!logged_in_tried) {
      logged_in_tried = true;
      Status login = LoginBefore(client, line.substr(start, line.find(' ', start) - start));
      if (!login.ok()) {
        ++failures;
        Complain(login.message(), login.reason());
      }
    }
    Status s = client.RunLine(line);
    if (!s.ok()) {
      ++failures;
      Complain("line " + std::to_string(number) + ": " + s.message(), s.reason());
    }
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  p2pshare::BoundHeapGrowth(p2pshare::HeapUse::kTransfers);
  p2pshare::NarrowPeerTlsSuites();
  using namespace p2pshare;
  PeerConfig config;
  CLI::App app{"p2pshare peer-client: search, download and upload on the network", "peer-client"};
  app.set_version_flag("--version", std::string(P2PSHARE_VERSION));
  PeerConfigFlags flags(app, &config, PeerProgram::kClient);
  bool json = false;
  app.add_flag("--json", json, "print results as JSON (anywhere on the line)");
  app.prefix_command();  // the first word that is no option starts the command
  app.footer(Wrap("Without a COMMAND: the REPL on a terminal, else one command a line from standard input. "
                  "COMMAND is init (a first run: writes the config) or one of " + [] {
    std::string names;
    for (const auto& c : pclient::Commands()) names += (names.empty() ? "" : ", ") + c.name;
    return names;
  }() + "; 'peer-client help' explains them, 'peer-client init --help' the first.", 79));
  // --json may come after the command too ("search x --json"): the
  // command's words never take it as an argument.
  std::vector<char*> args;
  bool json_seen = false;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && std::string_view(argv[i]) == "--json") {
      json_seen = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  g_json = json_seen;
  if (auto exit_code = ParseCommandLine(app, static_cast<int>(args.size()), args.data())) return *exit_code;
  json = json_seen;
  if (!app.remaining().empty() && app.remaining()[0].starts_with("-")) {
    return Fail(InvalidArgument("unknown option '" + app.remaining()[0] + "'; see --help"), kExitUsage);
  }
  // `init` writes the config the other commands read.
  if (!app.remaining().empty() && app.remaining()[0] == "init") {
    std::vector<std::string> rest = app.remaining();
    rest.erase(rest.begin());
    return pclient::RunInit(rest, flags.path());
  }
  Status loaded = flags.Load();
  // `help` explains the commands without an account or a config.
  const bool help_only = !app.remaining().empty() && app.remaining()[0] == "help";
  if (!loaded.ok() && !help_only) return Fail(loaded, kExitUsage);
  (void)SetupLogging("peer-client", config.log_level == "info" ? "warn" : config.log_level, config.log_format);

  std::vector<std::string> words = app.remaining();
  const bool stdin_tty = ::isatty(STDIN_FILENO);
  pclient::PeerClientOptions options;
  options.json = json;
  options.progress = ::isatty(STDERR_FILENO) && !json;
  options.interactive = stdin_tty && words.empty();
  if (options.interactive) options.stop_requested = pclient::Interrupted;  // the REPL's Ctrl-C
  options.background = options.interactive;  // the REPL queues transfers; scripts wait for each
  if (stdin_tty) {  // a person at a terminal is asked before a password goes to an unknown CA
    options.confirm_central_ca = [url = config.central_url](const std::string& fingerprint) {
      return pclient::ConfirmOnTerminal(url, fingerprint, std::cin, std::cerr);
    };
  }
  pclient::PeerClient client(config, options, std::cout, std::cerr);

  if (!words.empty()) return RunOneShot(client, words);
  if (!stdin_tty) return RunScript(client);
  Status login = LoginBefore(client, "");
  if (!login.ok()) Complain(login.message(), login.reason());
  client.SayWhetherSharing();
  return pclient::RunRepl(client, config.username);
}
