#include "pclient/repl.h"

#include <editline/readline.h>
#include <signal.h>
#include <stdlib.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

namespace p2pshare::pclient {
namespace {

PeerClient* g_client = nullptr;  // the completion callbacks are plain C
volatile std::sig_atomic_t g_interrupted = 0;

void OnInterrupt(int) { g_interrupted = 1; }
std::vector<std::string> g_candidates;

// Hands out g_candidates (already filtered for the word being completed).
char* NextCandidate(const char* /*text*/, int state) {
  static size_t index;
  if (state == 0) index = 0;
  if (index < g_candidates.size()) return ::strdup(g_candidates[index++].c_str());
  return nullptr;
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// A search result name as it must be typed: quoted when it holds spaces.
std::string Typed(const std::string& name) {
  return name.find_first_of(" \t'") == std::string::npos ? name : "\"" + name + "\"";
}

char** Complete(const char* text, int start, int /*end*/) {
  rl_attempted_completion_over = 1;  // no file-name fallback
  g_candidates.clear();
  const std::string word(text);
  if (start == 0) {
    for (const auto& c : Commands()) {
      if (StartsWith(c.name, word)) g_candidates.push_back(c.name);
      for (const auto& alias : c.aliases) {
        if (StartsWith(alias, word)) g_candidates.push_back(alias);
      }
    }
  } else if (g_client != nullptr) {
    // Names from the last search, by their start or their file name's start.
    const std::string bare = word.empty() || word[0] != '"' ? word : word.substr(1);
    std::vector<std::string> names = g_client->LastResultNames();
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string& n = names[i];
      std::string base = n.substr(n.rfind('/') == std::string::npos ? 0 : n.rfind('/') + 1);
      if (StartsWith(n, bare) || StartsWith(base, bare)) g_candidates.push_back(Typed(n));
      std::string number = "#" + std::to_string(i + 1);
      if (!word.empty() && StartsWith(number, word)) g_candidates.push_back(number);
    }
  }
  if (g_candidates.empty()) return nullptr;
  return rl_completion_matches(text, NextCandidate);
}

}  // namespace

bool Interrupted() { return g_interrupted != 0; }

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
  // Ctrl-C is ours: without SA_RESTART the terminal read returns, so
  // readline gives up the line; during a command the flag stops a transfer.
  rl_catch_signals = 0;
  struct sigaction on_interrupt {};
  on_interrupt.sa_handler = OnInterrupt;
  sigemptyset(&on_interrupt.sa_mask);
  on_interrupt.sa_flags = 0;
  struct sigaction before {};
  ::sigaction(SIGINT, &on_interrupt, &before);
  std::cout << "p2pshare " << P2PSHARE_VERSION
            << " — type 'help' for the commands; Ctrl-C stops a transfer or clears the line, Ctrl-D leaves\n";
  while (!client.quit_requested()) {
    g_interrupted = 0;
    char* raw = readline(client.prompt().c_str());
    if (raw == nullptr) {
      std::cout << "\n";
      if (g_interrupted) continue;  // Ctrl-C: a fresh prompt
      break;                        // Ctrl-D
    }
    std::string line(raw);
    ::free(raw);
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    add_history(line.c_str());
    if (!history.empty()) write_history(history.c_str());  // a crash or kill loses nothing typed
    g_interrupted = 0;
    Status s = client.RunLine(line);
    if (!s.ok()) std::cerr << "error: " << s.message() << "\n";
  }
  ::sigaction(SIGINT, &before, nullptr);
  g_client = nullptr;
  return 0;
}

}  // namespace p2pshare::pclient
