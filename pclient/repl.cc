#include "pclient/repl.h"

#include <editline/readline.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#include <stdlib.h>

#include <cerrno>
#include <clocale>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "pclient/format.h"

namespace p2pshare::pclient {
namespace {

PeerClient* g_client = nullptr;  // the completion callbacks are plain C
volatile std::sig_atomic_t g_interrupted = 0;
int g_wake[2] = {-1, -1};  // a byte in here: Ctrl-C (the self-pipe trick)
int g_ended[2] = {-1, -1};  // a byte in here: a background transfer ended

void OnTransferEnded() {
  const char byte = 0;
  if (g_ended[1] >= 0) (void)!::write(g_ended[1], &byte, 1);
}

void Drain(int fd) {
  char buf[64];
  while (fd >= 0 && ::read(fd, buf, sizeof buf) > 0) {
  }
}

// Prints the lines of transfers that ended above the line being edited,
// then draws the prompt and that line again.
void ShowEndedTransfers() {
  Drain(g_ended[0]);
  if (g_client == nullptr) return;
  std::fputs("\r\x1b[K", stdout);
  std::fflush(stdout);
  g_client->PrintEndedTransfers();
  rl_forced_update_display();
}

void OnInterrupt(int) {
  g_interrupted = 1;
  const int saved = errno;
  const char byte = 0;
  if (g_wake[1] >= 0) (void)!::write(g_wake[1], &byte, 1);
  errno = saved;
}

void DrainWake() { Drain(g_wake[0]); }

// One byte of the terminal, or -1 at its end or once Ctrl-C was pressed.
int ReadByte(int fd) {
  for (;;) {
    if (g_interrupted) return -1;
    pollfd p[3] = {{fd, POLLIN, 0}, {g_wake[0], POLLIN, 0}, {g_ended[0], POLLIN, 0}};
    if (::poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if ((p[1].revents & POLLIN) != 0) {
      DrainWake();
      continue;  // the loop sees g_interrupted
    }
    if ((p[2].revents & POLLIN) != 0) {
      ShowEndedTransfers();
      continue;
    }
    if (p[0].revents == 0) continue;
    unsigned char c;
    const ssize_t n = ::read(fd, &c, 1);
    if (n == 1) return c;
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    return -1;
  }
}

// libedit's key reader: a key (a Unicode code point, from its UTF-8
// bytes), or -1 — at the end of input, and at once when Ctrl-C is pressed
// even while libedit is not waiting in read() (the signal alone would
// only interrupt a read under way: a Ctrl-C in between was lost).
int ReadKey(FILE* in) {
  const int fd = ::fileno(in);
  const int lead = ReadByte(fd);
  if (lead < 0x80) return lead;  // ASCII, or -1
  const int more = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
  int code = lead & (0x3F >> more);
  for (int i = 0; i < more; ++i) {
    const int next = ReadByte(fd);
    if (next < 0) return -1;
    code = (code << 6) | (next & 0x3F);
  }
  return more == 0 ? 0xFFFD : code;
}
std::vector<std::string> g_candidates;

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// A search result name as it must be typed: quoted when it holds spaces.
std::string Typed(const std::string& name) {
  return name.find_first_of(" \t'") == std::string::npos ? name : "\"" + name + "\"";
}

// The words of the line before position `start`.
std::vector<std::string> WordsBefore(int start) {
  std::vector<std::string> words;
  std::string word;
  for (int i = 0; i < start && rl_line_buffer != nullptr && rl_line_buffer[i] != '\0'; ++i) {
    const char ch = rl_line_buffer[i];
    if (ch == ' ' || ch == '\t') {
      if (!word.empty()) words.push_back(word);
      word.clear();
    } else {
      word += ch;
    }
  }
  if (!word.empty()) words.push_back(word);
  return words;
}

// Whether the word being completed names a peer: the argument of ping and
// files, or the value of --from and --to.
bool WantsPeer(const std::vector<std::string>& before) {
  if (before.empty()) return false;
  if (before.back() == "--from" || before.back() == "--to") return true;
  return before.size() == 1 && (before[0] == "ping" || before[0] == "files" || before[0] == "browse");
}

// The matches array libedit expects: [0] what replaces the word (the
// candidates' common start, or the word itself when that would cut what was
// typed, e.g. a lone '"' when names matched by their base name differ right
// after the quote), then the candidates, then null.
char** Matches(const std::string& word, const std::vector<std::string>& candidates) {
  std::string common = candidates[0];
  for (const auto& c : candidates) {
    size_t n = 0;
    while (n < common.size() && n < c.size() && common[n] == c[n]) ++n;
    common.resize(n);
  }
  const std::string bare_common = !common.empty() && common[0] == '"' ? common.substr(1) : common;
  const std::string bare_word = !word.empty() && word[0] == '"' ? word.substr(1) : word;
  if (candidates.size() > 1 && !StartsWith(bare_common, bare_word)) common = word;
  // One candidate: it alone, as readline's contract has it.
  const size_t listed = candidates.size() == 1 ? 0 : candidates.size();
  auto** out = static_cast<char**>(std::malloc((listed + 2) * sizeof(char*)));
  out[0] = ::strdup((candidates.size() == 1 ? candidates[0] : common).c_str());
  for (size_t i = 0; i < listed; ++i) out[i + 1] = ::strdup(candidates[i].c_str());
  out[listed + 1] = nullptr;
  return out;
}

char** Complete(const char* text, int start, int /*end*/) {
  rl_attempted_completion_over = 1;  // no file-name fallback
  g_candidates.clear();
  const std::string word(text);
  const std::vector<std::string> before = WordsBefore(start);
  if (g_client != nullptr && WantsPeer(before)) {
    for (const auto& name : g_client->PeerNames()) {
      if (StartsWith(name, word)) g_candidates.push_back(name);
    }
    if (g_candidates.empty()) return nullptr;
    return Matches(word, g_candidates);
  }
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
  return Matches(word, g_candidates);
}

}  // namespace

bool Interrupted() { return g_interrupted != 0; }

int RunRepl(PeerClient& client, const std::string& username) {
  g_client = &client;
  // Before anything initializes libedit (reading the history does): its
  // key reader and signal handling are set up once, at initialization.
  // Names are UTF-8 (docs/protocol.md): the line editor must take UTF-8
  // keys even where the locale is C (it dropped every non-ASCII letter).
  if (std::setlocale(LC_CTYPE, "") == nullptr || MB_CUR_MAX == 1) std::setlocale(LC_CTYPE, "C.UTF-8");
  rl_catch_signals = 0;
  if (g_wake[0] < 0 && ::pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) == 0 &&
      ::pipe2(g_ended, O_CLOEXEC | O_NONBLOCK) == 0) {
    rl_getc_function = ReadKey;
  }
  client.SetTransferWake(OnTransferEnded);
  client.StartWishWatch();  // a wish that comes true prints above the prompt
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
    DrainWake();
    Drain(g_ended[0]);
    client.PrintEndedTransfers();
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
    // A stop the person asked for (Ctrl-C) is no error: it says what it kept.
    if (!s.ok()) std::cerr << (s.reason() == "stopped" ? "" : "error: ") << Printable(s.message()) << "\n";
  }
  client.CloseTransfers();  // Ctrl-D or quit: each stops, saying what it kept
  client.SetTransferWake(nullptr);
  ::sigaction(SIGINT, &before, nullptr);
  g_client = nullptr;
  return 0;
}

}  // namespace p2pshare::pclient
