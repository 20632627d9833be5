#include "pclient/peer_client.h"

#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <filesystem>
#include <fstream>
#include <set>
#include <iostream>

#include <grpcpp/grpcpp.h>

#include "common/central_trust.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/hex.h"
#include "common/host_port.h"
#include "common/names.h"
#include "common/part_record.h"
#include "common/peer_channel.h"
#include "common/proto_convert.h"
#include "common/unique_fd.h"
#include "p2pshare.grpc.pb.h"
#include "pclient/format.h"
#include "pclient/peer_words.h"
#include "pclient/share_link.h"
#include "pclient/stream_server.h"
#include "pclient/transfers.h"

namespace p2pshare::pclient {

// A download's last line and JSON document ("downloaded x (3 MiB) from ...").
std::pair<std::string, Json> DownloadSummary(const DownloadRequest& req, const DownloadResult& result);
// The file a p2pshare: link names, with those of `holders` that hold that
// very version; NotFound ("no_holder") when none does.
Result<FileResult> FromLink(const ShareLink& link, const std::vector<Holder>& holders);

namespace {

namespace fs = std::filesystem;

// Short hashes remembered across runs (lines of the shown-hashes file).
constexpr size_t kMaxShownKept = 20000;

// Background transfers running at once; the others wait their turn.
constexpr int kParallelTransfers = 2;

// The columns of the terminal on standard output (0: not a terminal).
size_t TerminalColumns() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1) return ws.ws_col - 1;
  return 0;
}

// The progress line cut to the terminal's width, so '\r' can redraw it
// (a wrapped line cannot be erased).
std::string FitToTerminal(std::string line) {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && line.size() >= ws.ws_col) {
    line.resize(ws.ws_col - 1);
  }
  return line;
}

void SetDeadline(grpc::ClientContext* ctx, int seconds) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
}

// How a session ended, for `status` ("logged out: run 'login' ...").
std::string SessionEnded(const Status& s) {
  if (s.reason() == "logged_out") return "logged out (here or elsewhere): run 'login'";
  if (s.reason() == "session_expired") return "expired (no heartbeat in time): run 'login'";
  if (s.reason() == "unreachable") return "unknown: central does not answer";
  return s.message();
}

// Whether something accepts TCP connections at host:port (within 1 s).
bool Listening(const std::string& host, int port) {
  UniqueFd fd(ConnectTcp(host, port, 1000));
  return fd.valid();
}

// A download that stopped or found no holder, with the command that
// resumes it (`resume`).
Status WithResumeHint(const Status& s, const std::string& resume) {
  if (s.reason() == "stopped") return Status(s.code(), s.message() + "; '" + resume + "' resumes it", s.reason());
  if (s.reason() == "no_holder") {
    return Status(s.code(), s.message() + "; '" + resume + "' resumes it when a holder is back", s.reason());
  }
  return s;
}

Result<int64_t> ParseRate(const std::string& text) {
  auto rate = ParseByteRate(text);
  if (!rate.ok()) return InvalidArgument("--limit-rate " + rate.status().message());
  return rate;
}

}  // namespace

// Reads a line from the terminal without echo.
std::string ReadSecret(const std::string& prompt, std::ostream& err) {
  // Echo goes off before the prompt shows: a password typed (or pasted) the
  // moment the prompt appears is never echoed.
  termios old{};
  bool tty = ::tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    // A line, ended by Enter, whatever mode the line editor left behind.
    quiet.c_lflag |= ICANON;
    quiet.c_iflag |= ICRNL;
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  err << prompt << std::flush;
  std::string line;
  std::getline(std::cin, line);
  if (tty) ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
  err << "\n";
  return line;
}

bool ConfirmOnTerminal(const std::string& central_url, const std::string& fingerprint, std::istream& in,
                       std::ostream& err) {
  err << "central at " << Printable(central_url) << " presents a certificate authority this peer has not seen:\n"
      << "  sha256 " << fingerprint << "\n"
      << "Compare it with the 'CA sha256' line central printed when it started (or ask whoever runs it).\n"
      << "Trust it, and send your password to that central? [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(in, answer)) return false;
  while (!answer.empty() && (answer.back() == '\r' || answer.back() == ' ')) answer.pop_back();
  return answer == "y" || answer == "Y" || answer == "yes" || answer == "Yes";
}

PeerClient::PeerClient(PeerConfig config, PeerClientOptions options, std::ostream& out,
                       std::ostream& err)
    : config_(std::move(config)),
      options_(options),
      out_(out),
      err_(err),
      password_(config_.password) {}

DirectoryClient& PeerClient::Central() {
  if (!directory_) {
    // The CA to trust is resolved on first use: `help` never needs it, and
    // a first run pins it here (trust on first use), saying so once.
    Result<CentralTrust> trust = PeerCentralTrust(config_, options_.confirm_central_ca);
    if (trust.ok() && !trust->note.empty()) Note(trust->note);
    directory_ = std::make_shared<DirectoryClient>(config_.central_url,
                                                   CentralClientOptions(config_, trust));
    // A peer that cannot be reached at its address connects back to us,
    // at our address toward central, or is reached through central's
    // relay (common/peer_channel.h chooses the route).
    auto url = ParseCentralUrl(config_.central_url);
    UseRelay([central = directory_](const std::string& account, int reverse_port) {
               return central->Rendezvous(account, reverse_port);
             },
             config_.username, url.ok() ? LocalAddressToward(url->host, url->port) : "");
    // The peer's key (shared with its peer-server) and the certificates
    // central gives it; a failure here shows at login.
    auto credentials = PeerCredentials::Open(config_.shared_dir + "/.p2pshare", config_.username,
                                             trust.ok() ? trust->ca_pem : "");
    if (credentials.ok()) {
      credentials_ = std::move(credentials).value();
    } else {
      credentials_error_ = credentials.status();
    }
  }
  return *directory_;
}

PeerClient::~PeerClient() {
  if (queue_) queue_->Close();  // its jobs use this object
  StopHeartbeats();
  if (directory_) UseRelay(nullptr);  // connections already carried keep the client they share
}

void PeerClient::Print(const std::string& text, const Json& json) {
  if (options_.json) {
    out_ << json.dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    out_ << Printable(text, /*keep_newlines=*/true);
  }
  out_.flush();
}

std::vector<std::string> PeerClient::PeerNames() {
  const auto now = std::chrono::steady_clock::now();
  if (!central_away_ && now - peer_names_at_ > std::chrono::seconds(10)) {
    peer_names_at_ = now;
    if (auto peers = Central().Peers(); peers.ok()) {
      peer_names_.clear();
      for (const auto& p : *peers) peer_names_.push_back(p.username);
    }
  }
  std::set<std::string> names(peer_names_.begin(), peer_names_.end());
  for (const auto& r : last_results_) {
    for (const auto& h : r.holders) names.insert(h.username);
  }
  names.erase(config_.username);
  return {names.begin(), names.end()};
}

std::vector<std::string> PeerClient::LastResultNames() const {
  std::vector<std::string> out;
  for (const auto& r : last_results_) out.push_back(r.name);
  return out;
}

Status PeerClient::RunLine(const std::string& line) {
  ASSIGN_OR_RETURN(auto words, SplitWords(line));
  if (words.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(ParsedCommand cmd, ParseCommand(words));
  return Run(cmd);
}

const std::vector<CommandSpec>& Commands() {
  using C = PeerClient;
  static const std::vector<CommandSpec> kCommands = {
      {.name = "help", .usage = "help [command]", .summary = "show the commands, or how to use one",
       .max_args = 1, .login_first = false, .run = &C::Help},
      {.name = "login", .usage = "login", .summary = "log in to central with the configured account",
       .login_first = false, .run = &C::LoginCommand},
      {.name = "logout", .usage = "logout",
       .summary = "take this peer off the network (its peer-server stops too)", .run = &C::Logout},
      {.name = "register", .usage = "register", .summary = "create the configured account on central",
       .login_first = false, .run = &C::Register},
      {.name = "status", .usage = "status",
       .summary = "account, central, session, own port, shared files", .run = &C::StatusCommand},
      {.name = "peers", .usage = "peers", .summary = "the peers online", .run = &C::Peers},
      {.name = "search",
       .usage = "search <words and filters> [--sort relevance|holders|size|name] [--fuzzy] [--via friend]",
       .summary = "find files by name: words in any order, accents and case ignored, \"a phrase\", * and ? "
                  "wildcards; --fuzzy searches the suggestion when a word has a typo; through friend peers "
                  "when central is away",
       .min_args = 1, .max_args = 64, .options = {"--via", "--sort"}, .flags = {"--fuzzy"}, .joins_args = true,
       .run = &C::Search},
      {.name = "wish", .usage = "wish <words and filters, as search takes> | wish --remove N",
       .summary = "save a search at central: when a file matching it is shared later, the REPL says so (once)",
       .max_args = 64, .options = {"--remove"}, .joins_args = true, .run = &C::Wish},
      {.name = "wishes", .usage = "wishes", .summary = "the searches saved with 'wish'", .run = &C::Wishes},
      {.name = "files", .usage = "files [peer]", .summary = "this peer's shared files, or another peer's",
       .max_args = 1, .run = &C::Files},
      {.name = "browse", .usage = "browse <peer> [folder]",
       .summary = "a peer's shared folder as a tree, numbered: 'download #n' fetches a file or a whole folder",
       .min_args = 1, .max_args = 2, .last_takes_rest = true, .run = &C::Browse},
      {.name = "download",
       .usage = "download <name|#n|sha256|p2pshare:link> [--from PEER] [--to DIR] [--limit-rate RATE (8M, 500K)] "
                "[--verify-only] [--rates] [--via friend] [--wait]",
       .summary = "fetch a file from its holders, verified and resumable (in the background in the "
                  "REPL; --wait: here)",
       .min_args = 1, .max_args = 1, .options = {"--from", "--to", "--limit-rate", "--via"},
       .flags = {"--verify-only", "--rates", "--wait"}, .run = &C::Download},
      {.name = "stream", .usage = "stream <name|#n|sha256|p2pshare:link> [--to DIR] [--limit-rate RATE] [--wait]",
       .summary = "download in order and play it at once: a loopback URL for mpv, vlc or a browser",
       .min_args = 1, .max_args = 1, .options = {"--to", "--limit-rate"}, .flags = {"--wait"}, .run = &C::Stream},
      {.name = "link", .usage = "link <name|#n|sha256>",
       .summary = "a p2pshare: link to the file, to paste anywhere: 'download <link>' fetches it from any holder",
       .min_args = 1, .max_args = 1, .run = &C::Link},
      {.name = "upload", .usage = "upload <path> [--to PEER] [--wait]",
       .summary = "send a file to another peer (in the background in the REPL; --wait: here)",
       .min_args = 1, .max_args = 1, .options = {"--to"}, .flags = {"--wait"}, .run = &C::Upload},
      {.name = "transfers", .usage = "transfers",
       .summary = "this session's downloads and uploads (queued, running, waiting, done, failed, with ETA), "
                  "and what others download from this peer",
       .run = &C::Transfers},
      {.name = "cancel", .usage = "cancel <n>",
       .summary = "stop transfer n (a download keeps what is verified)", .min_args = 1, .max_args = 1,
       .login_first = false, .run = &C::Cancel},
      {.name = "retry", .usage = "retry <n>", .summary = "run a failed or stopped transfer again (resuming it)",
       .min_args = 1, .max_args = 1, .login_first = false, .run = &C::Retry},
      {.name = "ping", .usage = "ping <peer>", .summary = "round-trip time to a peer", .min_args = 1,
       .max_args = 1, .run = &C::Ping},
      {.name = "quit", .usage = "quit", .summary = "leave (stays logged in; also exit or Ctrl-D)",
       .aliases = {"exit"}, .login_first = false, .run = &C::Quit},
  };
  return kCommands;
}

Status PeerClient::Run(const ParsedCommand& c) {
  const CommandSpec* spec = FindCommand(c.name);
  if (spec == nullptr) return InvalidArgument("unknown command '" + c.name + "'");
  Status s = (this->*spec->run)(c);
  SaveShown();
  return s;
}

std::string PeerClient::ShownFile() const { return config_.shared_dir + "/.p2pshare/shown-hashes"; }

void PeerClient::Shown(const std::string& sha256, const std::string& name) {
  if (!IsSha256Hex(sha256) || name.find_first_of("\t\n") != std::string::npos) return;
  auto [it, fresh] = shown_hashes_.insert_or_assign(sha256, name);
  if (fresh) unsaved_shown_.push_back(sha256);
}

void PeerClient::LoadShown() {
  std::ifstream in(ShownFile());
  for (std::string line; std::getline(in, line);) {
    const size_t tab = line.find('\t');
    if (tab == 64 && IsSha256Hex(line.substr(0, 64))) shown_hashes_.emplace(line.substr(0, 64), line.substr(65));
  }
}

void PeerClient::SaveShown() {
  if (unsaved_shown_.empty()) return;
  std::error_code ec;
  fs::create_directories(fs::path(ShownFile()).parent_path(), ec);
  // Bounded: past kMaxShownKept lines, the newest half is kept.
  if (fs::file_size(ShownFile(), ec) > kMaxShownKept * 80) {
    std::vector<std::string> lines;
    std::ifstream in(ShownFile());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::ofstream out(ShownFile() + ".new", std::ios::trunc);
    for (size_t i = lines.size() > kMaxShownKept / 2 ? lines.size() - kMaxShownKept / 2 : 0; i < lines.size(); ++i) {
      out << lines[i] << "\n";
    }
    out.close();
    fs::rename(ShownFile() + ".new", ShownFile(), ec);
  }
  std::ofstream out(ShownFile(), std::ios::app);
  for (const std::string& sha : unsaved_shown_) out << sha << "\t" << shown_hashes_[sha] << "\n";
  unsaved_shown_.clear();
}

Status PeerClient::Quit(const ParsedCommand&) {
  const int active = queue_ ? queue_->Active() : 0;
  if (active > 0 && !quit_warned_) {
    quit_warned_ = true;
    Print(Counted(active, "transfer is", "transfers are") +
              " still queued or running ('transfers' lists them); 'quit' again stops them "
              "(a download resumes later with 'download')\n",
          Json{{"quit", false}, {"active_transfers", active}});
    return Status::Ok();
  }
  quit_ = true;
  CloseTransfers();
  return Status::Ok();
}

Status PeerClient::LoginCommand(const ParsedCommand&) {
  Status s = password_.empty() ? InvalidArgument("no password") : Login(/*announce=*/true);
  // A person at the REPL is asked, instead of being told to edit a file.
  if (options_.interactive && (password_.empty() || s.reason() == "bad_credentials")) {
    if (!password_.empty()) Note(s.message());
    password_ = ReadSecret("password for " + config_.username + ": ", err_);
    s = Login(/*announce=*/true);
  }
  if (s.ok()) login_failure_ = Status::Ok();
  return s;
}

Status PeerClient::Help(const ParsedCommand& c) {
  if (!c.args.empty()) {
    const CommandSpec* spec = FindCommand(c.args[0]);
    if (spec == nullptr) return InvalidArgument("no command '" + c.args[0] + "'; try 'help'");
    auto indented = [](std::string text, size_t by) {
      for (size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', at + 1)) {
        text.insert(at + 1, std::string(by, ' '));
      }
      return text;
    };
    Print("usage: " + indented(Wrap(spec->usage, 72), 7) + "\n  " + indented(Wrap(spec->summary, 76), 2) + "\n",
          Json{{"command", spec->name}, {"usage", spec->usage}, {"summary", spec->summary}});
    return Status::Ok();
  }
  // 80 columns: each command with its arguments (options as "[options]";
  // 'help <command>' shows them), its summary wrapped beside.
  constexpr size_t kUsageColumns = 30;
  std::string text;
  Json list = Json::array();
  for (const auto& spec : Commands()) {
    std::string usage = spec.usage;
    if (size_t opt = usage.find(" [--"); opt != std::string::npos) usage = usage.substr(0, opt) + " [options]";
    std::string summary = Wrap(spec.summary, 80 - kUsageColumns - 3);
    std::string line = "  " + usage;
    line += usage.size() + 1 > kUsageColumns ? "\n" + std::string(kUsageColumns + 3, ' ')
                                             : std::string(kUsageColumns + 1 - usage.size(), ' ');
    for (char ch : summary) {
      line += ch;
      if (ch == '\n') line += std::string(kUsageColumns + 3, ' ');
    }
    text += line + "\n";
    list.push_back(Json{{"command", spec.name}, {"usage", spec.usage}, {"summary", spec.summary}});
  }
  text += "'help COMMAND' shows its options; Tab completes commands, file and peer names\n";
  Print(text, Json{{"commands", list}});
  return Status::Ok();
}

Status PeerClient::RequireSession() const {
  if (!session_ && central_away_) {
    return Unavailable("central is unreachable, so there is no session: only search and download "
                       "work now (through friend peers)",
                       "unreachable");
  }
  if (!session_ && !login_failure_.ok()) return login_failure_;
  if (!session_) {
    return Unauthenticated("not logged in: run 'login' (or 'register' first for a new account)",
                           "not_logged_in");
  }
  return Status::Ok();
}

void PeerClient::StartHeartbeats() {
  StopHeartbeats();
  auto interval = std::chrono::seconds(std::max<int64_t>(1, session_->heartbeat_interval_s));
  heartbeats_ = std::make_unique<Periodic>(interval, [this] { (void)Beat(); });
}

void PeerClient::StopHeartbeats() { heartbeats_.reset(); }

Status PeerClient::Beat() {
  // Revocations come a page at a time (docs/protocol.md, "Trust"): while
  // more are waiting, ask again at once (a bounded number of pages a beat;
  // the rest at the next).
  for (int page = 0; page < kRevokedPagesPerBeat; ++page) {
    HeartbeatRequest req;
    req.revoked_after = revoked_seq_.load();
    auto beat = Central().Heartbeat(req);  // failures show on the next command
    if (!beat.ok()) return beat.status();
    (void)credentials_->Accept(beat->certificate, "", beat->revoked);
    revoked_seq_ = beat->revoked_seq;
    if (!beat->revoked_more) break;
  }
  return Status::Ok();
}

Status PeerClient::AutoLogin() {
  if (password_.empty()) return Status::Ok();
  Status s = Login(/*announce=*/false);
  if (s.reason() == "bad_credentials") {
    // Searching needs no session: the command still runs, and one that
    // needs a session says why there is none.
    login_failure_ = s;
    Note("not logged in: " + s.message());
    return Status::Ok();
  }
  if (s.ok() || !CentralUnavailable(s)) return s;
  central_away_ = true;
  Note("central is unreachable (" + s.message() + "); search and download go through friend peers");
  return Status::Ok();
}

void PeerClient::Note(const std::string& line) { err_ << Printable(line) << "\n"; }

Result<bool> PeerClient::ViaFriend(const ParsedCommand& c) const {
  auto via = c.Option("--via");
  if (!via) return false;
  if (*via != "friend") return InvalidArgument("--via takes 'friend', not '" + *via + "'");
  return true;
}

Result<v1::LocateReply> PeerClient::LocateViaFriends(const v1::LocateRequest& request) {
  std::vector<std::string> friends = EffectiveFriends(config_);
  if (friends.empty()) {
    return Unavailable("no friend peers to ask: set 'friends' in the config, or log in once while "
                       "central is up (its peer-server keeps the friends central suggests)",
                       "no_friends");
  }
  std::string failures;
  for (size_t i = 0; i < friends.size(); ++i) {
    const std::string& f = friends[i];
    ASSIGN_OR_RETURN(HostPort address, ParseHostPort(f));  // checked when read; kept honest
    auto stub = PeerStub(address.host, address.port, "");  // any member: known by address only
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::LocateReply reply;
    grpc::Status st = stub->Locate(&ctx, request, &reply);
    if (st.ok()) {
      last_via_ = f;
      // A friend is a stranger too: what it says is checked before use.
      if (int bad = DropBadLocateEntries(&reply, request.limit() == 0 ? 50 : request.limit());
          bad > 0) {
        Note("friend " + f + " answered with " + std::to_string(bad) +
             " malformed entries; they were dropped");
      }
      return reply;
    }
    std::string why = (i == 0 ? "the primary friend " : "the backup friend ") + f + " " + PeerTrouble(f, st);
    failures += (failures.empty() ? "" : "; ") + why;
    if (i + 1 < friends.size()) Note(why + "; asking the backup friend " + friends[i + 1]);
  }
  return Unavailable("no friend peer answered (" + failures + ")", "no_friend");
}

Status PeerClient::Login(bool announce) {
  if (password_.empty()) {
    return InvalidArgument("no password: set 'password' in the config or P2PSHARE_PASSWORD");
  }
  DirectoryClient& central = Central();
  RETURN_IF_ERROR(credentials_error_);
  LoginRequest req{config_.username, password_,
                   config_.advertise_host.empty() ? std::nullopt
                                                  : std::optional<std::string>(config_.advertise_host),
                   std::nullopt, {},
                   credentials_->csr(), /*client=*/true};
  auto reply = central.Login(req);
  if (!reply.ok()) {
    Status s = reply.status().WithContext("login failed");
    if (s.reason() == "bad_credentials") {
      const std::string from = password_ == config_.password && !config_.password_source.empty()
                                   ? config_.password_source
                                   : "what was typed";
      return Status(s.code(),
                    "central refused the password of " + config_.username + " (from " + from +
                        "); correct it there, or run 'login' in the REPL to type it (a new account? "
                        "'register' first)",
                    s.reason());
    }
    return s;
  }
  RETURN_IF_ERROR(credentials_->Accept(reply->certificate, reply->ca, reply->revoked)
                      .WithContext("login failed"));
  session_ = *reply;
  revoked_seq_ = reply->revoked_seq;
  if (reply->revoked_more) (void)Beat();  // the rest of the revocations, before any peer is called
  StartHeartbeats();
  if (!announce) return Status::Ok();
  std::optional<PeerInfo> own = OwnPeerServer();
  Print("logged in as " + reply->username +
            (own ? " (its peer-server serves at " + JoinHostPort(own->host, own->port) + ")\n"
                 : "\n" + NoPeerServerHint() + "\n"),
        Json{{"username", reply->username}, {"peer_server", own.has_value()},
             {"host", own ? own->host : ""}, {"port", own ? own->port : 0}});
  return Status::Ok();
}

std::optional<PeerInfo> PeerClient::OwnPeerServer() {
  auto me = FindPeer(config_.username);  // central lists an account online only with a peer-server
  if (!me.ok()) return std::nullopt;
  // Where others reach it, else on this machine (a router in front of it
  // may not lead its own address back inside).
  for (const std::string& host : {me->host, LocalPeerHost(config_)}) {
    auto stub = PeerStub(host, me->port, config_.username);
    grpc::ClientContext ctx;
    SetDeadline(&ctx, 2);
    v1::PingReply pong;
    if (stub->Ping(&ctx, v1::PingRequest(), &pong).ok()) return *me;
  }
  return std::nullopt;
}

std::string PeerClient::NoPeerServerHint() const {
  return "no peer-server runs for " + config_.username +
         ", so other peers cannot download from it; start one in another terminal: peer-server --config " +
         (config_.config_path.empty() ? std::string("FILE") : ShellWord(config_.config_path));
}

void PeerClient::SayWhetherSharing() {
  if (session_ && !OwnPeerServer()) Note(NoPeerServerHint());
}

Status PeerClient::Logout(const ParsedCommand&) {
  RETURN_IF_ERROR(RequireSession());
  std::optional<PeerInfo> own = OwnPeerServer();
  StopHeartbeats();
  Status s = Central().Logout();
  const int64_t interval = session_->heartbeat_interval_s;
  session_.reset();
  Central().set_token("");
  if (!s.ok() && s.code() != Code::kUnauthenticated) return s.WithContext("logout failed");
  if (!own) {
    Print(config_.username + " is logged out (no peer-server of it was running)\n",
          Json{{"logged_out", true}, {"username", config_.username}, {"peer_server_stopped", false}});
    return Status::Ok();
  }
  // Its peer-server learns it at its next heartbeat and ends; say when.
  const std::string address = JoinHostPort(own->host, own->port);
  Note("logged out; " + config_.username + "'s peer-server at " + address +
       " stops at its next heartbeat (within " + std::to_string(interval) + " s)...");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(interval + 5);
  bool stopped = false;
  // Asked on this machine: its listed address may be a router's.
  while (!(stopped = !Listening(LocalPeerHost(config_), own->port)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling a port another process holds
  }
  if (!stopped) {
    return Unavailable(config_.username + " is logged out, but its peer-server at " + address +
                       " still listens; stop it by hand (Ctrl-C in its terminal)");
  }
  Print(config_.username + " is off the network; its peer-server at " + address + " stopped\n",
        Json{{"logged_out", true}, {"username", config_.username}, {"peer_server_stopped", true}});
  return Status::Ok();
}

Status PeerClient::Register(const ParsedCommand&) {
  std::string password = password_;
  if (options_.interactive) {
    password = ReadSecret("new password for " + config_.username + ": ", err_);
    if (ReadSecret("again: ", err_) != password) return InvalidArgument("the passwords differ");
  }
  if (password.empty()) {
    return InvalidArgument("no password: set 'password' in the config or P2PSHARE_PASSWORD");
  }
  auto created = Central().Register(config_.username, password);
  if (!created.ok()) return created.status().WithContext("register failed");
  Print("registered account " + *created + "\n", Json{{"username", *created}});
  return Status::Ok();
}

namespace {

// How `peers` and `status` show central's check of an address.
std::string ReachableWord(const std::string& reachable) {
  return reachable.empty() ? "unchecked" : reachable;
}

}  // namespace

Status PeerClient::StatusCommand(const ParsedCommand&) {
  Json j{{"username", config_.username},
         {"central_url", config_.central_url},
         {"logged_in", session_.has_value()}};
  std::string text = "account      " + config_.username + "\ncentral      " + config_.central_url;
  Status health = Central().Health();
  j["central_reachable"] = health.ok();
  text += health.ok() ? " (reachable)\n" : " (unreachable)\n";
  if (session_) {
    Status alive = Central().Heartbeat().status();
    j["session"] = alive.ok() ? "active" : alive.reason();
    text += "session      " + (alive.ok() ? std::string("active") : SessionEnded(alive)) + "\n";
    auto peers = Central().Peers();
    int64_t shared = 0;
    std::string reachable;
    if (peers.ok()) {
      for (const auto& p : *peers) {
        if (p.username != config_.username) continue;
        shared = p.files;
        reachable = p.reachable;
      }
    }
    j["shared_files"] = shared;
    text += "shared       " + Counted(shared, "file") + "\n";
    // Is our peer-server up? Central lists it, and it answers.
    std::optional<PeerInfo> own = OwnPeerServer();
    j["peer_server"] = own ? "running" : "not running";
    j["port"] = own ? own->port : 0;
    text += "peer-server  " + (own ? "running at " + JoinHostPort(own->host, own->port) + "\n"
                                   : "not running: " + NoPeerServerHint() + "\n");
    if (own) {
      j["reachable"] = reachable;
      text += "reachable    " + ReachableWord(reachable) +
              (reachable == "direct" ? " (central reached it: other peers can download from it)\n"
               : reachable == "mapped"
                   ? " (central reached it through the port its router forwards: other peers can download from it)\n"
               : reachable == "relayed-only"
                   ? " (central could not reach it directly: it connects out to peers that can be reached, "
                     "and others reach it through central's relay)\n"
               : reachable == "reversed-only"
                   ? " (central could not reach it directly: it connects out to peers that can be reached; "
                     "others cannot download from it, as central runs no relay)\n"
                   : " (central has not checked it yet)\n");
    }
  } else {
    j["session"] = "none";
    text += "session      not logged in: " +
            (login_failure_.ok() ? std::string("run 'login' (or 'register' first for a new account)")
                                 : login_failure_.message()) +
            "\n";
  }
  Print(text, j);
  return Status::Ok();
}

Status PeerClient::Peers(const ParsedCommand&) {
  ASSIGN_OR_RETURN(auto peers, Central().Peers());
  Table t({"peer", "address", "reachable", "files", "size", "last seen"});
  Json list = Json::array();
  for (const auto& p : peers) {
    t.AddRow({p.username, JoinHostPort(p.host, p.port), ReachableWord(p.reachable),
              std::to_string(p.files), HumanSize(p.bytes), p.last_seen});
    list.push_back(ToJson(p));
  }
  Print(peers.empty() ? "no peers online\n" : t.Render(), Json{{"peers", list}});
  return Status::Ok();
}

namespace {

std::string SourceName(v1::Located::Source s) { return s == v1::Located::FLOOD ? "flood" : "directory"; }

// Hex digits a short hash needs to be taken for one (tables print 12).
constexpr size_t kMinShortHash = 6;

// The one content `what` names among `results` (by path or base name).
Result<FileResult> PickNamed(const std::vector<FileResult>& results, const std::string& what) {
  std::vector<FileResult> exact;
  for (const auto& r : results) {
    if (r.name == what || fs::path(r.name).filename() == what) exact.push_back(r);
  }
  if (exact.empty()) return NotFound("no file named '" + what + "'; try 'search " + what + "'");
  for (const auto& r : exact) {
    if (r.sha256 != exact[0].sha256) {
      return InvalidArgument("'" + what + "' names " + std::to_string(exact.size()) +
                             " different files; search, then download #n or by sha256");
    }
  }
  return exact[0];
}

}  // namespace

Status PeerClient::Search(const ParsedCommand& c) {
  ASSIGN_OR_RETURN(bool via_friend, ViaFriend(c));
  SearchPage page;
  std::vector<std::string> sources;  // per result, when friends answered
  SearchOptions options;
  options.sort = c.Option("--sort").value_or("relevance");
  options.fuzzy = c.Flag("--fuzzy");
  if (!via_friend && !central_away_) {
    auto found = Central().Search(c.args[0], 100, 0, options);
    if (found.ok()) {
      page = std::move(*found);
    } else if (CentralUnavailable(found.status())) {
      Note("central cannot answer (" + found.status().message() + "); asking friend peers");
      via_friend = true;
    } else {
      return found.status();
    }
  }
  if (via_friend || central_away_) {
    v1::LocateRequest req;
    req.set_query(c.args[0]);
    req.set_limit(100);
    ASSIGN_OR_RETURN(v1::LocateReply reply, LocateViaFriends(req));
    page.total = reply.total();
    page.total_exact = !reply.total_estimated();
    for (const auto& r : reply.results()) {
      page.results.push_back(FromProto(r));
      sources.push_back(SourceName(r.source()));
    }
  }
  last_results_ = page.results;
  for (const auto& r : page.results) Shown(r.sha256, r.name);
  std::vector<std::string> columns{"#", "name", "size", "sha256", "holders"};
  if (!sources.empty()) columns.push_back("found via");
  Table t(columns);
  Json json = ToJson(page);
  for (size_t i = 0; i < page.results.size(); ++i) {
    const auto& r = page.results[i];
    std::string holders;
    for (const auto& h : r.holders) holders += (holders.empty() ? "" : ", ") + h.username;
    if (r.holders_total > static_cast<int64_t>(r.holders.size())) {  // central lists a few
      holders += " +" + std::to_string(r.holders_total - static_cast<int64_t>(r.holders.size()));
    }
    std::vector<std::string> row{std::to_string(i + 1), r.name, HumanSize(r.size), ShortHash(r.sha256),
                                 holders};
    if (!sources.empty()) {
      row.push_back(sources[i]);
      json["results"][i]["source"] = sources[i];
    }
    t.AddRow(row);
  }
  std::string text;
  if (!page.searched.empty()) text += "no files match '" + c.args[0] + "'; showing '" + page.searched + "' instead\n";
  text += page.results.empty() ? "no files match '" + c.args[0] + "'\n" : t.Render();
  if (!page.suggestion.empty() && page.searched.empty()) {
    text += "did you mean '" + page.suggestion + "'? (search " + page.suggestion + ", or add --fuzzy)\n";
  }
  if (page.total > static_cast<int64_t>(page.results.size())) {
    text += "(" + std::string(page.total_exact ? "" : "about ") + Counted(page.total, "match", "matches") +
            "; showing the first " + std::to_string(page.results.size()) + ")\n";
  }
  if (!sources.empty() || via_friend) {
    text += "(asked through friend peer " + last_via_ + ")\n";
    json["via"] = last_via_;
  }
  Print(text, json);
  return Status::Ok();
}

Result<PeerInfo> PeerClient::FindPeer(const std::string& name) {
  ASSIGN_OR_RETURN(auto peers, Central().Peers());
  for (const auto& p : peers) {
    if (p.username == name) return p;
  }
  return NotFound("peer '" + name + "' is not online");
}

Status PeerClient::Files(const ParsedCommand& c) {
  RETURN_IF_ERROR(RequireSession());
  std::string who = c.args.empty() ? config_.username : c.args[0];
  auto found = FindPeer(who);
  if (!found.ok() && who == config_.username && found.status().code() == Code::kNotFound) {
    return FailedPrecondition(NoPeerServerHint(), "no_peer_server");
  }
  ASSIGN_OR_RETURN(PeerInfo peer, std::move(found));
  auto stub = PeerStub(peer.host, peer.port, peer.username);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 10);
  v1::ListFilesReply reply;
  grpc::Status s = stub->ListFiles(&ctx, v1::ListFilesRequest(), &reply);
  if (!s.ok()) return PeerCallStatus(who, s, "cannot list " + who + "'s files");
  Table t({"name", "size", "sha256"});
  Json list = Json::array();
  for (const auto& f : reply.files()) {
    t.AddRow({f.name(), HumanSize(f.size()), ShortHash(f.sha256())});
    Shown(f.sha256(), f.name());
    list.push_back(ToJson(FromProto(f)));
  }
  Print(reply.files().empty() ? who + " shares no files\n" : t.Render(),
        Json{{"peer", who}, {"files", list}});
  return Status::Ok();
}

Result<FileResult> PeerClient::LastResult(const std::string& what) const {
  size_t n = 0;
  try {
    n = std::stoul(what.substr(1));
  } catch (...) {
    return InvalidArgument("'" + what + "' is not a result number like #2");
  }
  if (n == 0 || n > last_results_.size()) {
    return InvalidArgument("no result " + what + " in the last search (" +
                           Counted(static_cast<int64_t>(last_results_.size()), "result") + ")");
  }
  return last_results_[n - 1];
}

Result<FileResult> PeerClient::ResolveFile(const std::string& what) {
  if (LooksLikeLink(what)) {
    ASSIGN_OR_RETURN(ShareLink link, ParseLink(what));
    ASSIGN_OR_RETURN(auto found, Central().FindFile(link.sha256));
    return FromLink(link, found ? found->holders : std::vector<Holder>{});
  }
  if (what.size() > 1 && what[0] == '#') {
    ASSIGN_OR_RETURN(FileResult r, LastResult(what));
    // Ask again for the current holders of that content.
    ASSIGN_OR_RETURN(auto fresh, Central().FindFile(r.sha256));
    if (!fresh) {
      return NotFound("nobody online holds " + r.name + " right now; what a download of it verified stays in "
                      "its .part, and downloading it again resumes it once a holder is back", "no_holder");
    }
    FileResult out = *fresh;
    out.name = r.name;
    return out;
  }
  std::string lower = what;
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  // A short hash (as tables print them) names a file a table showed.
  const bool hexish = lower.size() >= kMinShortHash && lower.size() < 64 &&
                      lower.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (hexish) {
    LoadShown();  // tables this account's earlier peer-client commands printed
    std::vector<std::string> matches;
    for (auto it = shown_hashes_.lower_bound(lower); it != shown_hashes_.end() && it->first.starts_with(lower); ++it) {
      matches.push_back(it->first);
    }
    if (matches.size() > 1) {
      return InvalidArgument("'" + what + "' starts " + std::to_string(matches.size()) +
                             " sha256s shown here; give more of its digits");
    }
    if (matches.size() == 1) lower = matches[0];
  }
  if (IsSha256Hex(lower)) {
    ASSIGN_OR_RETURN(auto found, Central().FindFile(lower));
    if (!found) {
      return NotFound("nobody online holds a file with sha256 " + lower + " right now; what a download of it "
                      "verified stays in its .part, and the same command resumes it once a holder is back",
                      "no_holder");
    }
    return *found;
  }
  ASSIGN_OR_RETURN(SearchPage page, Central().Search(what, 1000, 0));
  Result<FileResult> picked = PickNamed(page.results, what);
  if (!picked.ok() && hexish && picked.status().code() == Code::kNotFound) {
    return NotFound("'" + what + "' is no file name, and no file this client has shown starts with that hash; "
                    "search for the file (or list a peer's files) first, then use its short hash, #n or "
                    "name, or give all 64 hex digits of its sha256");
  }
  ASSIGN_OR_RETURN(FileResult named, std::move(picked));
  ASSIGN_OR_RETURN(auto all, Central().FindFile(named.sha256));
  FileResult out = all ? *all : named;
  out.name = named.name;
  return out;
}

Result<FileResult> PeerClient::LocateFile(const std::string& what) {
  if (what.size() > 1 && what[0] == '#') return LastResult(what);  // the holders it showed
  if (LooksLikeLink(what)) {
    ASSIGN_OR_RETURN(ShareLink link, ParseLink(what));
    ASSIGN_OR_RETURN(FileResult found, LocateFile(link.sha256));
    return FromLink(link, found.holders);
  }
  std::string lower = what;
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  v1::LocateRequest req;
  req.set_limit(1000);
  if (IsSha256Hex(lower)) {
    req.set_sha256(lower);
  } else {
    req.set_query(what);
  }
  ASSIGN_OR_RETURN(v1::LocateReply reply, LocateViaFriends(req));
  std::vector<FileResult> found;
  for (const auto& r : reply.results()) found.push_back(FromProto(r));
  if (IsSha256Hex(lower)) {
    if (found.empty()) return NotFound("no peer the friends reached holds sha256 " + lower);
    FileResult out = found[0];
    for (size_t i = 1; i < found.size(); ++i) {  // the same content under other names
      for (const auto& h : found[i].holders) out.holders.push_back(h);
    }
    return out;
  }
  return PickNamed(found, what);
}

Status PeerClient::Browse(const ParsedCommand& c) {
  RETURN_IF_ERROR(RequireSession());
  const std::string& who = c.args[0];
  std::string folder = c.args.size() > 1 ? c.args[1] : "";
  if (folder.size() > 1 && folder[0] == '#') {  // a folder row of the last browse
    ASSIGN_OR_RETURN(FileResult row, LastResult(folder));
    if (!row.sha256.empty() || !row.name.ends_with('/')) {
      return InvalidArgument(folder + " is the file " + row.name + ", not a folder; 'download " + folder +
                             "' fetches it");
    }
    folder = row.name;
  }
  while (!folder.empty() && folder.back() == '/') folder.pop_back();
  while (!folder.empty() && folder.front() == '/') folder.erase(0, 1);
  ASSIGN_OR_RETURN(PeerInfo peer, FindPeer(who));
  auto stub = PeerStub(peer.host, peer.port, peer.username);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 10);
  v1::ListFilesReply reply;
  grpc::Status st = stub->ListFiles(&ctx, v1::ListFilesRequest(), &reply);
  if (!st.ok()) return PeerCallStatus(who, st, "cannot browse " + who + "'s files");
  const Holder holder{peer.username, peer.host, peer.port};
  const std::string prefix = folder.empty() ? "" : folder + "/";
  // What lies right under the folder: sub-folders (with what is under
  // them) and files.
  struct Folder {
    int64_t files = 0, bytes = 0;
  };
  std::map<std::string, Folder> folders;
  std::vector<FileResult> files, under;
  for (const auto& f : reply.files()) {
    if (!f.name().starts_with(prefix) || !CheckSharedName(f.name()).ok()) continue;
    FileResult r{f.name(), f.size(), f.sha256(), {holder}, 1};
    under.push_back(r);
    const std::string rest = f.name().substr(prefix.size());
    if (size_t slash = rest.find('/'); slash != std::string::npos) {
      Folder& d = folders[prefix + rest.substr(0, slash + 1)];
      d.files++;
      d.bytes += f.size();
    } else {
      files.push_back(std::move(r));
    }
  }
  if (under.empty() && !folder.empty()) {
    return NotFound(who + " shares no folder '" + folder + "'; 'browse " + who + "' shows the top");
  }
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::vector<FileResult> rows;
  Table t({"#", "name", "size", "sha256"});
  Json entries = Json::array();
  int64_t total = 0;
  for (const auto& f : under) total += f.size;
  for (const auto& [path, d] : folders) {
    rows.push_back(FileResult{path, d.bytes, "", {holder}, 1});
    const std::string shown = path.substr(prefix.size());
    t.AddRow({std::to_string(rows.size()), shown, HumanSize(d.bytes), Counted(d.files, "file")});
    entries.push_back(Json{{"n", rows.size()}, {"type", "folder"}, {"name", path}, {"size", d.bytes},
                           {"files", d.files}});
  }
  for (const auto& f : files) {
    rows.push_back(f);
    Shown(f.sha256, f.name);
    t.AddRow({std::to_string(rows.size()), f.name.substr(prefix.size()), HumanSize(f.size), ShortHash(f.sha256)});
    entries.push_back(Json{{"n", rows.size()}, {"type", "file"}, {"name", f.name}, {"size", f.size},
                           {"sha256", f.sha256}});
  }
  last_results_ = rows;
  browsed_ = std::move(under);
  const std::string where = who + ":/" + prefix;
  std::string text = where + "  (" + Counted(static_cast<int64_t>(browsed_.size()), "file") + ", " +
                     HumanSize(total) + " in all)\n";
  text += rows.empty() ? "  (empty)\n" : t.Render();
  if (!rows.empty()) text += "'browse " + who + " FOLDER' goes down; 'download #n' fetches a file or a whole folder\n";
  Print(text, Json{{"peer", who}, {"folder", prefix}, {"files", browsed_.size()}, {"bytes", total},
                   {"entries", entries}});
  return Status::Ok();
}

Result<std::string> PeerClient::FetchFolder(const std::vector<DownloadRequest>& requests, const std::string& label,
                                            const std::function<bool()>& stop, const ProgressFn& progress,
                                            const NoteFn& note) {
  int64_t total = 0, done_before = 0, here = 0, fetched = 0;
  for (const auto& r : requests) total += r.file.size;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> failures;
  size_t finished = 0;
  std::string dest;
  auto stopped_after = [&](size_t n) {
    return Status(Code::kCancelled, "stopped after " + std::to_string(n) + " of " +
                                        Counted(static_cast<int64_t>(requests.size()), "file") +
                                        " (what is verified is kept; running it again resumes)");
  };
  for (const DownloadRequest& base : requests) {
    if (stop && stop()) break;
    DownloadRequest r = base;
    r.stop_requested = stop;
    // Who holds it now, with the roots a browse does not list: pieces from
    // all of them, each verified as it comes (and kept across failures).
    if (r.refresh_holders) {
      if (auto holders = r.refresh_holders(); holders.ok() && !holders->empty()) r.file.holders = *holders;
    }
    ProgressFn each = nullptr;
    if (progress) {
      each = [&, done_before](const TransferProgress& p) {
        progress(TransferProgress{done_before + p.done, total, p.sources, p.holder});
      };
    }
    auto result = DownloadFile(r, each, note);
    done_before += r.file.size;
    if (result.ok()) {
      ++finished;
      fetched += result->fetched;
      if (result->already_there || result->fetched == 0) here += r.file.size;
      dest = r.dest_dir;
      continue;
    }
    if (result.status().code() == Code::kCancelled) return stopped_after(finished);
    failures.push_back(r.file.name + ": " + result.status().message());
  }
  if (stop && stop() && finished + failures.size() < requests.size()) return stopped_after(finished);
  if (!failures.empty()) {
    std::string why;
    for (size_t i = 0; i < failures.size() && i < 3; ++i) why += (i ? "; " : "") + failures[i];
    if (failures.size() > 3) why += "; ...";
    return Unavailable(std::to_string(failures.size()) + " of " +
                           Counted(static_cast<int64_t>(requests.size()), "file") + " of " + label +
                           " failed (" + why + "); the others are in place, and running it again resumes",
                       "no_holder");
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return "downloaded folder " + label + ": " + Counted(static_cast<int64_t>(requests.size()), "file") + ", " +
         HumanSize(total) + (here > 0 ? " (" + HumanSize(here) + " were here already)" : "") + " in " +
         HumanDuration(secs) + ", " + HumanSize(secs > 0 ? static_cast<int64_t>(fetched / secs) : 0) +
         "/s; every sha256 verified -> " + (fs::path(dest) / fs::path(label).relative_path()).string();
}

Status PeerClient::DownloadFolder(const ParsedCommand& c, const FileResult& folder) {
  RETURN_IF_ERROR(RequireSession());
  const Holder& peer = folder.holders.at(0);
  std::vector<DownloadRequest> requests;
  for (const FileResult& f : browsed_) {
    if (!f.name.starts_with(folder.name)) continue;
    DownloadRequest req{f, c.Option("--to").value_or(config_.download_dir), config_.username, 0};
    if (auto rate = c.Option("--limit-rate")) {
      ASSIGN_OR_RETURN(req.limit_rate, ParseRate(*rate));
    }
    if (req.dest_dir == config_.download_dir) req.partial_dir = PartialDir(config_.shared_dir);
    // Others holding the same file may help, as for any download.
    req.refresh_holders = [this, sha = f.sha256]() -> Result<std::vector<Holder>> {
      ASSIGN_OR_RETURN(auto found, Central().FindFile(sha));
      if (!found) return std::vector<Holder>{};
      return found->holders;
    };
    requests.push_back(std::move(req));
  }
  if (requests.empty()) return NotFound("the folder " + folder.name + " holds no files");
  const std::string label = folder.name + " from " + peer.username;
  if (Background(c)) {
    auto job = [this, requests, label = folder.name](TransferQueue::Control& control) -> Result<std::string> {
      return FetchFolder(
          requests, label, [&control] { return control.StopRequested(); },
          [&control](const TransferProgress& p) { control.Progress(p); },
          [&control](const std::string& line) { control.Note(line); });
    };
    return Queue("download", folder.name + " (" + Counted(static_cast<int64_t>(requests.size()), "file") + ")",
                 "folder " + peer.username + " " + folder.name + " " + requests[0].dest_dir, folder.size,
                 std::move(job));
  }
  ProgressFn progress = ProgressBar();
  NoteFn note = TerminalNote();
  auto done = FetchFolder(requests, folder.name, options_.stop_requested, progress, note);
  if (progress) err_ << "\r\x1b[K" << std::flush;
  if (!done.ok()) return done.status();
  Print(*done + "\n", Json{{"folder", folder.name}, {"from", peer.username},
                            {"files", requests.size()}, {"size", folder.size}});
  return Status::Ok();
}

NoteFn PeerClient::TerminalNote() {
  return [this](const std::string& line) {
    if (options_.progress) err_ << "\r\x1b[K";  // over the progress bar
    err_ << Printable(line) << "\n";
  };
}

Result<FileResult> PeerClient::FileToDownload(const ParsedCommand& c, bool* via_friend_out) {
  ASSIGN_OR_RETURN(bool via_friend, ViaFriend(c));
  via_friend |= central_away_;
  if (!via_friend) RETURN_IF_ERROR(RequireSession());
  Result<FileResult> resolved = via_friend ? LocateFile(c.args[0]) : ResolveFile(c.args[0]);
  if (!via_friend && !resolved.ok() && CentralUnavailable(resolved.status())) {
    Note("central cannot answer (" + resolved.status().message() + "); locating through friend peers");
    resolved = LocateFile(c.args[0]);
  }
  *via_friend_out = via_friend;
  if (!resolved.ok()) return resolved.status();
  FileResult file = std::move(*resolved);
  if (auto from = c.Option("--from")) {
    std::vector<Holder> chosen;
    for (const auto& h : file.holders) {
      if (h.username == *from) chosen.push_back(h);
    }
    if (chosen.empty()) return NotFound(*from + " does not hold " + file.name);
    file.holders = chosen;
  }
  return file;
}

bool PeerClient::AlreadyShared(const FileResult& file, const ParsedCommand& c) {
  // This peer shares that content already (perhaps under another name, or
  // as an earlier download inside the shared folder): fetching it again
  // would only add a copy to the index.
  for (const Holder& h : file.holders) {
    if (h.username == config_.username && !h.partial && !c.Flag("--verify-only")) {
      Print(file.name + " is shared by this peer already (same sha256); nothing fetched\n",
            Json{{"name", file.name}, {"size", file.size}, {"sha256", file.sha256}, {"already_shared", true},
                 {"already_there", true}, {"fetched", 0}});
      return true;
    }
  }
  return false;
}

std::string PeerClient::ResumeCommand(const DownloadRequest& req) const {
  return "download " + req.file.sha256 +
         (req.dest_dir == config_.download_dir ? "" : " --to " + ShellWord(req.dest_dir));
}

Result<FileResult> FromLink(const ShareLink& link, const std::vector<Holder>& holders) {
  // The link's claim decides: holders of another size (or root) hold
  // another version, or lie.
  FileResult out{link.name.empty() ? "file-" + ShortHash(link.sha256) : link.name, link.size, link.sha256, {}, 0};
  for (const Holder& h : holders) {
    if (h.size >= 0 && h.size != link.size) continue;
    if (!link.root.empty() && !h.root.empty() && h.root != link.root) continue;
    out.holders.push_back(h);
  }
  out.holders_total = static_cast<int64_t>(out.holders.size());
  if (out.holders.empty()) {
    return NotFound("no peer online holds " + out.name + " (" + HumanSize(link.size) + ", sha256 " +
                        ShortHash(link.sha256) + ") right now; the link stays good: try it again later",
                    "no_holder");
  }
  return out;
}

// The root most whole holders of `file` report (the version a downloader
// checks pieces against); empty when none reports one.
std::string MostReportedRoot(const FileResult& file) {
  std::map<std::string, int> roots;
  for (const Holder& h : file.holders) {
    if (!h.partial && !h.root.empty() && (h.size < 0 || h.size == file.size)) roots[h.root]++;
  }
  std::string best;
  for (const auto& [root, n] : roots) {
    if (best.empty() || n > roots[best]) best = root;
  }
  return best;
}

Status PeerClient::Link(const ParsedCommand& c) {
  ASSIGN_OR_RETURN(FileResult file, ResolveFile(c.args[0]));
  ShareLink link{file.sha256, file.size, MostReportedRoot(file), file.name};
  const std::string text = FormatLink(link);
  Print(text + "\n", Json{{"link", text}, {"name", file.name}, {"size", file.size}, {"sha256", file.sha256},
                          {"root", link.root}});
  return Status::Ok();
}

Status PeerClient::Stream(const ParsedCommand& c) {
  bool via_friend = false;
  ASSIGN_OR_RETURN(FileResult file, FileToDownload(c, &via_friend));
  Digest root{};
  if (!HexDecode(MostReportedRoot(file), root)) {
    return FailedPrecondition("no holder of " + file.name + " describes its pieces, so it cannot be played "
                              "before it completes; 'download' it instead", "no_pieces");
  }
  DownloadRequest req{file, c.Option("--to").value_or(config_.download_dir), config_.username, 0};
  if (auto rate = c.Option("--limit-rate")) {
    ASSIGN_OR_RETURN(req.limit_rate, ParseRate(*rate));
  }
  if (req.dest_dir == config_.download_dir) req.partial_dir = PartialDir(config_.shared_dir);
  if (!via_friend) {
    req.refresh_holders = [this, sha = file.sha256]() -> Result<std::vector<Holder>> {
      ASSIGN_OR_RETURN(auto found, Central().FindFile(sha));
      if (!found) return std::vector<Holder>{};
      return found->holders;
    };
  }
  auto ended = std::make_shared<std::atomic<bool>>(false);
  auto server = std::make_shared<StreamServer>(file, (fs::path(req.dest_dir) / file.name).string(), root,
                                               [ended] { return ended->load(); });
  ASSIGN_OR_RETURN(std::string url, server->Start());
  req.reader_at = [server] { return server->reader_at(); };
  streams_.push_back(server);
  const std::string opening = "streaming " + file.name + " (" + HumanSize(file.size) + "): open " + url +
                              " in mpv, vlc or a browser; it plays while the rest comes, in order, and the "
                              "URL serves until peer-client ends\n";
  if (Background(c)) {
    Print(opening, Json{{"url", url}, {"name", file.name}, {"size", file.size}});
    auto job = [req, ended](TransferQueue::Control& control) -> Result<std::string> {
      DownloadRequest r = req;
      r.stop_requested = [&control] { return control.StopRequested(); };
      auto result = DownloadFile(
          r, [&control](const TransferProgress& p) { control.Progress(p); },
          [&control](const std::string& line) { control.Note(line); });
      if (!result.ok()) {
        if (result.status().reason() != "no_holder") ended->store(true);
        return result.status();
      }
      std::string line = DownloadSummary(r, *result).first;
      if (!line.empty() && line.back() == '\n') line.pop_back();
      return line;
    };
    return Queue("download", file.name + " (streaming)", file.sha256 + " " + req.dest_dir, file.size,
                 std::move(job), ResumeCommand(req));
  }
  // Here: the URL first (a player can open it at once), then the download.
  err_ << opening << std::flush;
  req.stop_requested = options_.stop_requested;
  ProgressFn progress = ProgressBar();
  auto result = DownloadFile(req, progress, TerminalNote());
  if (progress) err_ << "\r\x1b[K" << std::flush;
  if (!result.ok()) {
    ended->store(true);
    return WithResumeHint(result.status(), ResumeCommand(req));
  }
  auto [text, j] = DownloadSummary(req, *result);
  j["url"] = url;
  Print(text, j);
  if (!options_.interactive && !options_.json) {
    // One-shot: the file is in place; the URL serves it until this ends.
    err_ << "serving " << url << " until Ctrl-C\n" << std::flush;
    while (!(options_.stop_requested && options_.stop_requested())) std::this_thread::sleep_for(std::chrono::hours(1));
  }
  return Status::Ok();
}

Status PeerClient::Download(const ParsedCommand& c) {
  if (c.args[0].size() > 1 && c.args[0][0] == '#') {  // a folder row of the last browse
    auto row = LastResult(c.args[0]);
    if (row.ok() && row->sha256.empty() && row->name.ends_with('/')) return DownloadFolder(c, *row);
  }
  bool via_friend = false;
  ASSIGN_OR_RETURN(FileResult file, FileToDownload(c, &via_friend));
  if (AlreadyShared(file, c)) return Status::Ok();
  // Without a session (central away) the certificate from an earlier
  // login, while it is valid, is what holders check.
  DownloadRequest req{file, c.Option("--to").value_or(config_.download_dir),
                      config_.username, 0};
  if (auto rate = c.Option("--limit-rate")) {
    ASSIGN_OR_RETURN(req.limit_rate, ParseRate(*rate));
  }
  req.verify_only = c.Flag("--verify-only");
  req.stop_requested = options_.stop_requested;
  // This peer's peer-server serves the pieces verified so far to others
  // fetching the same file (it finds the .part in download_dir).
  if (req.dest_dir == config_.download_dir) req.partial_dir = PartialDir(config_.shared_dir);
  if (!via_friend && !c.Option("--from")) {
    req.refresh_holders = [this, sha = file.sha256]() -> Result<std::vector<Holder>> {
      ASSIGN_OR_RETURN(auto found, Central().FindFile(sha));
      if (!found) return std::vector<Holder>{};
      return found->holders;
    };
  }
  if (Background(c)) {
    auto job = [req](TransferQueue::Control& control) -> Result<std::string> {
      DownloadRequest r = req;
      r.stop_requested = [&control] { return control.StopRequested(); };
      if (control.attempt() > 0 && r.refresh_holders) {  // a retry: who holds it now
        if (auto holders = r.refresh_holders(); holders.ok() && !holders->empty()) r.file.holders = *holders;
      }
      auto result = DownloadFile(
          r, [&control](const TransferProgress& p) { control.Progress(p); },
          [&control](const std::string& line) { control.Note(line); });
      if (!result.ok()) return result.status();
      std::string line = DownloadSummary(r, *result).first;
      if (!line.empty() && line.back() == '\n') line.pop_back();
      return line;
    };
    return Queue("download", file.name, file.sha256 + " " + req.dest_dir, file.size, std::move(job),
                 ResumeCommand(req));
  }
  ProgressFn progress = ProgressBar(c.Flag("--rates"));
  NoteFn note = TerminalNote();
  auto result = DownloadFile(req, progress, note);
  if (progress) err_ << "\r\x1b[K" << std::flush;
  if (!result.ok()) return WithResumeHint(result.status(), ResumeCommand(req));
  auto [text, j] = DownloadSummary(req, *result);
  Print(text, j);
  return Status::Ok();
}

std::pair<std::string, Json> DownloadSummary(const DownloadRequest& req, const DownloadResult& result) {
  const FileResult& file = req.file;
  Json j{{"name", file.name}, {"size", file.size}, {"sha256", file.sha256}, {"path", result.path},
         {"already_there", result.already_there}, {"resumed_at", result.resumed_at},
         {"from", result.from}, {"seconds", result.seconds}, {"fetched", result.fetched},
         {"verify_only", req.verify_only}, {"bytes_from", result.bytes_from},
         {"sources", result.sources}, {"queued_at", result.queued_at}};
  Json dropped = Json::array();
  for (const auto& [holder, why] : result.dropped) dropped.push_back(Json{{"holder", holder}, {"why", why}});
  j["dropped"] = std::move(dropped);
  // How each holder that sent bytes was reached (common/peer_channel.h).
  std::set<std::string> senders(result.from.begin(), result.from.end());
  for (const auto& [holder, bytes] : result.bytes_from) senders.insert(holder);
  Json routes = Json::object();
  std::string relayed, reversed;
  for (const std::string& holder : senders) {
    const std::string route = RouteTo(holder);
    routes[holder] = route;
    std::string& list = route == "relayed" ? relayed : reversed;
    if (route != "direct") list += (list.empty() ? "" : ", ") + holder;
  }
  j["routes"] = std::move(routes);
  if (result.already_there) {
    return {file.name + " is already at " + result.path + " (same sha256); nothing fetched\n", j};
  }
  std::string from;
  if (!result.bytes_from.empty() || !result.dropped.empty()) {  // a swarm: what each holder sent
    from = SourcesSummary(result.bytes_from, result.dropped);
  } else {
    for (const auto& f : result.from) from += (from.empty() ? "" : ", ") + f;
  }
  if (from.empty()) from = "nobody (all pieces were here)";
  if (!reversed.empty()) from += " (" + reversed + " connected back to us)";
  if (!relayed.empty()) from += " (" + relayed + " through central's relay)";
  double rate = result.seconds > 0 ? result.fetched / result.seconds : 0;
  std::string resumed;
  if (result.resumed_at > 0) resumed = " (" + HumanSize(result.resumed_at) + " were here already)";
  return {"downloaded " + file.name + " (" + HumanSize(file.size) + ") from " + from + " in " +
              HumanDuration(result.seconds) + ", " + HumanSize(static_cast<int64_t>(rate)) + "/s" + resumed +
              "; sha256 " + ShortHash(file.sha256) + " verified" +
              (req.verify_only ? " (not saved: --verify-only)" : " -> " + result.path) + "\n",
          j};
}

ProgressFn PeerClient::ProgressBar(bool rates) {
  if (!options_.progress || options_.json) return nullptr;
  auto started = std::chrono::steady_clock::now();
  auto last_draw = started - std::chrono::seconds(1);
  int64_t base = -1;  // bytes done at the first report: a resume's, not moved now
  return [this, started, last_draw, rates, base](const TransferProgress& p) mutable {
    if (base < 0) base = p.done;
    auto now = std::chrono::steady_clock::now();
    if (now - last_draw < std::chrono::milliseconds(100) && p.done < p.total) return;
    last_draw = now;
    double secs = std::chrono::duration<double>(now - started).count();
    std::string line = ProgressLine(p.done, p.total, secs > 0 ? static_cast<double>(p.done - base) / secs : 0);
    if (!p.sources.empty()) line += "  " + SourcesLine(p.sources, rates);
    err_ << "\r" << FitToTerminal(line) << "\x1b[K" << std::flush;
  };
}

Status PeerClient::Upload(const ParsedCommand& c) {
  RETURN_IF_ERROR(RequireSession());
  const std::string path = c.args[0];
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    return InvalidArgument(path + " is a folder: upload sends one file (upload each of its files, or put the "
                           "folder in the shared folder, " + config_.shared_dir + ", for others to browse)");
  }
  if (!fs::is_regular_file(path, ec)) return NotFound("no file " + path + " here");
  const std::string name = fs::path(path).filename().string();
  RETURN_IF_ERROR(CheckFileName(name));
  int64_t size = static_cast<int64_t>(fs::file_size(path, ec));
  Holder target;
  if (auto to = c.Option("--to")) {
    ASSIGN_OR_RETURN(PeerInfo p, FindPeer(*to));
    target = Holder{p.username, p.host, p.port, ""};
  } else {
    ASSIGN_OR_RETURN(target, Central().UploadTarget(name, size));
  }
  if (target.username == config_.username) return InvalidArgument("that is this peer itself");
  auto summary = [](const UploadResult& r, const Holder& to) {
    return "uploaded " + r.file.name + " (" + HumanSize(r.file.size) + ") to " + to.username + " in " +
           HumanDuration(r.seconds) + "; sha256 " + ShortHash(r.file.sha256) + " verified there";
  };
  if (Background(c)) {
    const std::string absolute = fs::absolute(path, ec).string();
    auto job = [absolute, name, target, summary](TransferQueue::Control& control) -> Result<std::string> {
      auto result = UploadFile(
          absolute, name, target, [&control](const TransferProgress& p) { control.Progress(p); },
          [&control] { return control.StopRequested(); });
      if (!result.ok()) return result.status();
      return summary(*result, target);
    };
    return Queue("upload", name, absolute + " " + target.username, size, std::move(job));
  }
  ProgressFn progress = ProgressBar();
  auto result = UploadFile(path, name, target, progress, options_.stop_requested);
  if (progress) err_ << "\r\x1b[K" << std::flush;
  if (!result.ok()) return result.status();
  Print(summary(*result, target) + "\n",
        Json{{"name", result->file.name}, {"size", result->file.size},
             {"sha256", result->file.sha256}, {"to", target.username}, {"seconds", result->seconds}});
  return Status::Ok();
}

bool PeerClient::Background(const ParsedCommand& c) const {
  return options_.background && !options_.json && !c.Flag("--wait");
}

void PeerClient::SetTransferWake(std::function<void()> wake) { transfer_wake_ = std::move(wake); }

Status PeerClient::Queue(const std::string& kind, const std::string& what, const std::string& key,
                         int64_t size, TransferQueue::Job job, const std::string& resume) {
  if (!queue_) {
    queue_ = std::make_unique<TransferQueue>(kParallelTransfers, [this] {
      if (transfer_wake_) transfer_wake_();
    });
  }
  ASSIGN_OR_RETURN(int id, queue_->Add(kind, what, key, std::move(job), resume));
  Print("#" + std::to_string(id) + " queued: " + kind + " " + what + " (" + HumanSize(size) +
            "); 'transfers' shows how it goes, and a line here says when it ends\n",
        Json{{"queued", id}, {"kind", kind}, {"name", what}, {"size", size}});
  return Status::Ok();
}

void PeerClient::PrintEndedTransfers() {
  if (wish_watch_) {
    for (const auto& n : wish_watch_->Take()) {
      Shown(n.sha256(), n.name());
      out_ << Printable("wish '" + n.query() + "' came true: " + n.name() + " (" + HumanSize(n.size()) + ") at " +
                        n.holder() + "; download " + ShortHash(n.sha256()))
           << "\n";
    }
  }
  if (!queue_) {
    out_.flush();
    return;
  }
  for (const std::string& line : queue_->TakeEnded()) out_ << Printable(line) << "\n";
  out_.flush();
}

void PeerClient::CloseTransfers() {
  if (wish_watch_) wish_watch_->Stop();
  if (!queue_) return;
  queue_->Close();
  PrintEndedTransfers();
}

void PeerClient::StartWishWatch() {
  if (wish_watch_ || !session_ || !transfer_wake_) return;
  auto me = FindPeer(config_.username);  // only a peer-server hears of wishes
  if (!me.ok()) return;
  wish_watch_ = std::make_unique<WishWatch>(std::vector<std::string>{me->host, LocalPeerHost(config_)}, me->port,
                                            config_.username, [wake = transfer_wake_] { wake(); });
}

Status PeerClient::Wish(const ParsedCommand& c) {
  RETURN_IF_ERROR(RequireSession());
  if (auto remove = c.Option("--remove")) {
    const std::string digits = !remove->empty() && (*remove)[0] == '#' ? remove->substr(1) : *remove;
    if (digits.empty() || digits.size() > 15 || digits.find_first_not_of("0123456789") != std::string::npos) {
      return InvalidArgument("'" + *remove + "' is not a wish number ('wishes' lists them)");
    }
    RETURN_IF_ERROR(Central().RemoveWish(std::stoll(digits)));
    Print("wish " + digits + " removed\n", Json{{"removed", std::stoll(digits)}});
    return Status::Ok();
  }
  if (c.args.empty()) return InvalidArgument("usage: wish <words> | wish --remove N");
  ASSIGN_OR_RETURN(WishInfo made, Central().AddWish(c.args[0]));
  StartWishWatch();
  std::string text = "wish " + std::to_string(made.id) + " saved: '" + made.query + "'. ";
  text += made.matching_now > 0 ? Counted(made.matching_now, "file matches", "files match") +
                                      " it now ('search " + made.query + "' lists them); you will be told of new ones"
                                : "nothing matches it yet; you will be told when something does";
  if (!OwnPeerServer()) {
    text += ". No peer-server of " + config_.username + " runs: central tells wishes to it, so start one to hear of them";
  } else if (!transfer_wake_) {
    text += " (the REPL prints it as it comes; the peer-server's log says it too)";
  }
  Print(text + "\n", Json{{"id", made.id}, {"query", made.query}, {"matching_now", made.matching_now}});
  return Status::Ok();
}

Status PeerClient::Wishes(const ParsedCommand&) {
  RETURN_IF_ERROR(RequireSession());
  ASSIGN_OR_RETURN(std::vector<WishInfo> wishes, Central().Wishes());
  Json list = Json::array();
  Table t({"#", "wish", "since"});
  for (const WishInfo& w : wishes) {
    const auto created = static_cast<std::time_t>(w.created);
    std::tm tm{};
    char since[32] = "";
    if (gmtime_r(&created, &tm) != nullptr) std::strftime(since, sizeof since, "%Y-%m-%d %H:%M UTC", &tm);
    t.AddRow({std::to_string(w.id), w.query, since});
    list.push_back(Json{{"id", w.id}, {"query", w.query}, {"created", w.created}});
  }
  Print(wishes.empty() ? "no wishes; 'wish <words>' saves one\n" : t.Render(), Json{{"wishes", std::move(list)}});
  return Status::Ok();
}

namespace {

// "3" or "#3" as a transfer number.
Result<int> TransferNumber(const std::string& text) {
  const std::string digits = !text.empty() && text[0] == '#' ? text.substr(1) : text;
  if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgument("'" + text + "' is not a transfer number like 3 ('transfers' lists them)");
  }
  return std::stoi(digits);
}

}  // namespace

Result<v1::UploadsReply> PeerClient::OwnUploads() {
  RETURN_IF_ERROR(RequireSession());
  ASSIGN_OR_RETURN(PeerInfo me, FindPeer(config_.username));
  grpc::Status last;
  for (const std::string& host : {me.host, LocalPeerHost(config_)}) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, 3);
    v1::UploadsReply reply;
    last = PeerStub(host, me.port, config_.username)->Uploads(&ctx, v1::UploadsRequest(), &reply);
    if (last.ok()) return reply;
  }
  return PeerCallStatus(config_.username + "'s peer-server", last, "cannot ask what others download");
}

Status PeerClient::Transfers(const ParsedCommand&) {
  std::vector<TransferQueue::Item> items = queue_ ? queue_->List() : std::vector<TransferQueue::Item>{};
  const size_t width = TerminalColumns();
  Table t({"#", "transfer", "state", "progress", "rate", "ETA", "via", "note"});
  Json list = Json::array();
  for (const auto& it : items) {
    std::string progress = HumanSize(it.total);
    if (it.state == TransferState::kRunning || it.state == TransferState::kStopped ||
        it.state == TransferState::kFailed || it.state == TransferState::kWaiting) {
      const int percent = it.total > 0 ? static_cast<int>(100 * it.done / it.total) : 0;
      progress = std::to_string(percent) + "% of " + HumanSize(it.total);
    }
    const bool moving = it.state == TransferState::kRunning || it.state == TransferState::kDone;
    std::string rate = moving && it.rate > 0 ? HumanSize(static_cast<int64_t>(it.rate)) + "/s" : "";
    const double eta = it.state == TransferState::kRunning && it.rate > 0
                           ? static_cast<double>(it.total - it.done) / it.rate
                           : -1;
    std::string note = it.state == TransferState::kRunning && !it.sources.empty() ? it.sources : it.note;
    // How its holders were reached: "direct", or those reached otherwise
    // ("alice reversed, bob relayed").
    std::string via;
    Json routes = Json::object();
    for (const auto& [holder, route] : it.routes) {
      routes[holder] = route;
      if (route != "direct") via += (via.empty() ? "" : ", ") + Printable(holder) + " " + route;
    }
    if (via.empty() && !it.routes.empty()) via = "direct";
    t.AddRow({std::to_string(it.id), it.kind + " " + it.what, StateName(it.state),
              it.total > 0 || it.state != TransferState::kQueued ? progress : "", rate,
              eta >= 0 ? HumanDuration(eta) : "", via, note});
    Json item{{"id", it.id}, {"kind", it.kind}, {"name", it.what}, {"state", StateName(it.state)},
              {"done", it.done}, {"total", it.total}, {"rate", it.rate}, {"seconds", it.seconds},
              {"note", it.note}, {"sources", it.sources}, {"routes", routes}};
    if (eta >= 0) item["eta_seconds"] = eta;
    list.push_back(std::move(item));
  }
  std::string text = items.empty() ? "no transfers yet: 'download' and 'upload' queue them here\n" : t.Render(width);
  // The other direction: what others download from this account's
  // peer-server (Nicotine+'s and DC++'s uploads tab).
  Json serving = Json::array(), queued = Json::array();
  auto uploads = OwnUploads();
  if (uploads.ok()) {
    Table u({"to", "file", "state", "sent", "rate"});
    for (const auto& s : uploads->serving()) {
      u.AddRow({s.to(), s.name(), "running", HumanSize(s.bytes()) + " of " + HumanSize(s.size()),
                s.rate() > 0 ? HumanSize(static_cast<int64_t>(s.rate())) + "/s" : ""});
      serving.push_back(Json{{"to", s.to()}, {"name", s.name()}, {"sha256", s.sha256()}, {"size", s.size()},
                             {"bytes", s.bytes()}, {"rate", s.rate()}, {"seconds", s.seconds()}});
    }
    for (int i = 0; i < uploads->queued_size(); ++i) {
      u.AddRow({uploads->queued(i), "", "queued #" + std::to_string(i + 1), "", ""});
      queued.push_back(uploads->queued(i));
    }
    text += "\n" + (u.empty() ? "nobody is downloading from " + config_.username + " right now\n"
                              : "downloading from " + config_.username + ":\n" + u.Render(width));
  } else if (session_) {
    text += "\n(what others download from " + config_.username + " is unknown: " + uploads.status().message() + ")\n";
  }
  Print(text, Json{{"transfers", list}, {"serving", serving}, {"queued", queued}});
  return Status::Ok();
}

Status PeerClient::Cancel(const ParsedCommand& c) {
  ASSIGN_OR_RETURN(int id, TransferNumber(c.args[0]));
  if (!queue_) return NotFound("no transfer #" + std::to_string(id) + "; 'transfers' lists them");
  const bool running = [&] {
    for (const auto& it : queue_->List()) {
      if (it.id == id) return it.state == TransferState::kRunning;
    }
    return false;
  }();
  RETURN_IF_ERROR(queue_->Cancel(id));
  Print(running ? "stopping #" + std::to_string(id) + "; a line here says what was kept\n"
                : "#" + std::to_string(id) + " cancelled before it started\n",
        Json{{"cancelled", id}, {"was_running", running}});
  return Status::Ok();
}

Status PeerClient::Retry(const ParsedCommand& c) {
  ASSIGN_OR_RETURN(int id, TransferNumber(c.args[0]));
  if (!queue_) return NotFound("no transfer #" + std::to_string(id) + "; 'transfers' lists them");
  RETURN_IF_ERROR(queue_->Retry(id));
  Print("#" + std::to_string(id) + " queued again\n", Json{{"queued", id}});
  return Status::Ok();
}

Status PeerClient::Ping(const ParsedCommand& c) {
  ASSIGN_OR_RETURN(PeerInfo peer, FindPeer(c.args[0]));
  auto stub = PeerStub(peer.host, peer.port, peer.username);
  std::vector<double> rtts;
  v1::PingReply pong;
  for (int i = 0; i < 4; ++i) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, 5);
    v1::PingRequest req;
    req.set_payload("ECO " + std::to_string(i));
    auto t0 = std::chrono::steady_clock::now();
    grpc::Status s = stub->Ping(&ctx, req, &pong);
    auto t1 = std::chrono::steady_clock::now();
    if (!s.ok()) return PeerCallStatus(peer.username, s, "ping " + peer.username);
    if (pong.payload() != req.payload()) return Internal(peer.username + " echoed something else");
    rtts.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  double min = *std::min_element(rtts.begin(), rtts.end());
  double avg = 0;
  for (double r : rtts) avg += r / rtts.size();
  char line[160];
  std::snprintf(line, sizeof line, "pong from %s at %s:%d (p2pshare %s): 4 round trips, min %.2f ms, avg %.2f ms\n",
                pong.username().c_str(), peer.host.c_str(), peer.port, pong.version().c_str(), min, avg);
  Print(line, Json{{"peer", pong.username()}, {"version", pong.version()}, {"rtt_ms", rtts},
                   {"min_ms", min}, {"avg_ms", avg}});
  return Status::Ok();
}

}  // namespace p2pshare::pclient
