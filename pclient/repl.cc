#include "pclient/repl.h"

#include <editline/readline.h>
#include <stdlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

namespace p2pshare::pclient {
namespace {

PeerClient* g_client = nullptr;  // the completion callbacks are plain C
std::vector<std::string> g_candidates;

char* NextCandidate(const char* text, int state) {
  static size_t index;
  if (state == 0) index = 0;
  size_t len = std::strlen(text);
  while (index < g_candidates.size()) {
    const std::string& c = g_candidates[index++];
    if (c.compare(0, len, text) == 0) return ::strdup(c.c_str());
  }
  return nullptr;
}

char** Complete(const char* text, int start, int /*end*/) {
  rl_attempted_completion_over = 1;  // no file-name fallback
  g_candidates.clear();
  if (start == 0) {
    for (const auto& c : Commands()) g_candidates.push_back(c.name);
    g_candidates.push_back("exit");
  } else if (g_client != nullptr) {
    g_candidates = g_client->LastResultNames();
    for (size_t i = 1; i <= g_candidates.size(); ++i) g_candidates.push_back("#" + std::to_string(i));
  }
  return rl_completion_matches(text, NextCandidate);
}

}  // namespace

int RunRepl(PeerClient& client, const std::string& username) {
  g_client = &client;
  rl_attempted_completion_function = Complete;
  std::string history;
  if (const char* home = std::getenv("HOME")) {
    std::error_code ec;
    std::filesystem::create_directories(std::string(home) + "/.p2pshare", ec);
    history = std::string(home) + "/.p2pshare/history-" + username;
    read_history(history.c_str());
  }
  stifle_history(1000);
  std::cout << "p2pshare " << P2PSHARE_VERSION << " — type 'help' for the commands, Ctrl-D to leave\n";
  while (!client.quit_requested()) {
    char* raw = readline(client.prompt().c_str());
    if (raw == nullptr) {  // Ctrl-D
      std::cout << "\n";
      break;
    }
    std::string line(raw);
    ::free(raw);
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    add_history(line.c_str());
    Status s = client.RunLine(line);
    if (!s.ok()) std::cerr << "error: " << s.message() << "\n";
  }
  if (!history.empty()) write_history(history.c_str());
  g_client = nullptr;
  return 0;
}

}  // namespace p2pshare::pclient
