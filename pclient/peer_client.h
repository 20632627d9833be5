// PeerClient: the commands of peer-client (docs/protocol.md) over one
// session with central. The REPL, the one-shot CLI and stdin mode all run
// commands through Run(), which finds them in the one command table.
//
// Output goes to `out` as text (tables) or, with json, one JSON document
// per command; notes (failovers, progress) go to `err`. While logged in, a
// background thread heartbeats so the session (and with it the token the
// other peers verify) stays alive even without this peer's peer-server.
//
// Thread-compatible: Run from one thread; the heartbeat thread is internal.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "common/directory_client.h"
#include "common/periodic.h"
#include "common/peer_config.h"
#include "common/peer_credentials.h"
#include "common/status.h"
#include "p2pshare.grpc.pb.h"
#include "pclient/command_line.h"
#include "pclient/stream_server.h"
#include "pclient/transfer_queue.h"
#include "pclient/wish_watch.h"
#include "pclient/transfers.h"

namespace p2pshare::pclient {

// Heartbeat replies one beat pages through at most (256 revocations each).
inline constexpr int kRevokedPagesPerBeat = 64;

// Reads a line from standard input, without echo on a terminal, after
// writing `prompt` to `err` (passwords).
std::string ReadSecret(const std::string& prompt, std::ostream& err);

struct PeerClientOptions {
  bool json = false;            // --json
  bool progress = false;        // draw a progress bar (a terminal only)
  bool interactive = false;     // a person at a terminal (password prompts)
  // download and upload queue their work and return (the REPL); without
  // it, or with --wait or --json, they run to the end first.
  bool background = false;
  // Asked while a transfer runs (null: never): true stops it, keeping what
  // a resume needs. The REPL's Ctrl-C.
  std::function<bool()> stop_requested = nullptr;
  // Asked before anything is sent to a central whose CA this peer has not
  // pinned yet and whose fingerprint the config does not give (null: trust
  // on first use, saying so). A terminal asks the person (ConfirmOnTerminal).
  ConfirmCentralCa confirm_central_ca = nullptr;
};

// Shows `fingerprint` of the CA central at `central_url` presents on `err`
// and asks on the terminal whether to trust it: true for "y" or "yes".
bool ConfirmOnTerminal(const std::string& central_url, const std::string& fingerprint,
                       std::istream& in, std::ostream& err);

class PeerClient {
 public:
  // The command table names the methods below.
  friend const std::vector<CommandSpec>& Commands();

  PeerClient(PeerConfig config, PeerClientOptions options, std::ostream& out, std::ostream& err);
  ~PeerClient();

  // Runs one command. Errors come back for the caller to print once.
  Status Run(const ParsedCommand& command);
  // Parses and runs a line; empty lines do nothing.
  Status RunLine(const std::string& line);

  // Logs in when the config has a password, printing nothing (the start-up
  // login). OK without a password. When central cannot be
  // reached it says so on the error stream and returns OK: search and
  // download then go through friend peers.
  Status AutoLogin();

  bool quit_requested() const { return quit_; }
  // Logged in but no peer-server of this account runs: says so, with the
  // command that starts one (the REPL, on start).
  void SayWhetherSharing();
  // Called from a transfer's thread when a background transfer ends (the
  // REPL wakes up to print PrintEndedTransfers() above its prompt).
  void SetTransferWake(std::function<void()> wake);
  // Prints the summary line of each background transfer that ended since
  // the last call.
  void PrintEndedTransfers();
  // Stops the background transfers (a download keeps what is verified) and
  // prints how each ended. Leaving the REPL does this.
  void CloseTransfers();
  // The REPL: starts listening for this account's wishes that come true
  // (pclient/wish_watch.h), when it has a session and a peer-server;
  // PrintEndedTransfers prints them.
  void StartWishWatch();
  bool logged_in() const { return session_.has_value(); }
  std::string prompt() const { return config_.username + "> "; }
  // Names of the last search's results, for tab completion.
  std::vector<std::string> LastResultNames() const;
  // Peer names for tab completion: the online peers as central listed them
  // at most 10 s ago (asked again after that), and the holders of the last
  // search; never this peer.
  std::vector<std::string> PeerNames();

 private:
  // The commands, as the table in peer_client.cc runs them.
  Status Help(const ParsedCommand& c);
  Status LoginCommand(const ParsedCommand& c);
  Status Logout(const ParsedCommand& c);
  Status Register(const ParsedCommand& c);
  Status StatusCommand(const ParsedCommand& c);
  Status Peers(const ParsedCommand& c);
  Status Search(const ParsedCommand& c);
  Status Files(const ParsedCommand& c);
  Status Download(const ParsedCommand& c);
  Status Link(const ParsedCommand& c);
  Status Stream(const ParsedCommand& c);
  Status Upload(const ParsedCommand& c);
  Status Ping(const ParsedCommand& c);
  Status Quit(const ParsedCommand& c);
  Status Browse(const ParsedCommand& c);
  Status Transfers(const ParsedCommand& c);
  Status Wish(const ParsedCommand& c);
  Status Wishes(const ParsedCommand& c);
  // What others download from this account's peer-server now.
  Result<v1::UploadsReply> OwnUploads();
  // Fetches every file the last browse listed under `folder` (a row of it).
  Status DownloadFolder(const ParsedCommand& c, const FileResult& folder);
  // The file `download` names, located through central or the friends
  // (*via_friend says which), narrowed to --from.
  Result<FileResult> FileToDownload(const ParsedCommand& c, bool* via_friend);
  // True (and said so) when this peer shares the content already.
  bool AlreadyShared(const FileResult& file, const ParsedCommand& c);
  // Downloads `requests` one after the other (progress over them all);
  // the line that says how it went, or why some failed.
  Result<std::string> FetchFolder(const std::vector<DownloadRequest>& requests, const std::string& label,
                                  const std::function<bool()>& stop, const ProgressFn& progress,
                                  const NoteFn& note);
  Status Cancel(const ParsedCommand& c);
  Status Retry(const ParsedCommand& c);

  // Whether `c` (download, upload) goes to the background queue.
  bool Background(const ParsedCommand& c) const;
  // Queues a background transfer and says so; `resume`: the command that
  // resumes it in a later session.
  Status Queue(const std::string& kind, const std::string& what, const std::string& key, int64_t size,
               TransferQueue::Job job, const std::string& resume = "");
  // The command that resumes `req` ("download <sha256>", with its --to).
  std::string ResumeCommand(const DownloadRequest& req) const;

  Status Login(bool announce);
  // This account's peer-server, when central lists it online and it
  // answers Ping as this account.
  std::optional<PeerInfo> OwnPeerServer();
  // "no peer-server runs for alice ...; start one ...: peer-server --config F".
  std::string NoPeerServerHint() const;

  Status RequireSession() const;
  // The online peer called `name`.
  Result<PeerInfo> FindPeer(const std::string& name);
  // Result n of the last search, for "#n".
  Result<FileResult> LastResult(const std::string& what) const;
  // What a download names: "#n" (last search), a sha256, or a file name.
  Result<FileResult> ResolveFile(const std::string& what);
  // The same through friend peers (Locate), when central cannot answer.
  Result<FileResult> LocateFile(const std::string& what);
  // Asks the primary friend, then the backup; notes which answered.
  Result<v1::LocateReply> LocateViaFriends(const v1::LocateRequest& request);
  // Whether a command asked `--via friend` (InvalidArgument for other values).
  Result<bool> ViaFriend(const ParsedCommand& c) const;
  void Note(const std::string& line);
  // The progress bar on the error stream, redrawn at most every 100 ms;
  // null when there is no terminal to draw on (or with --json).
  // `rates`: each source's rate on the line too (download --rates).
  ProgressFn ProgressBar(bool rates = false);
  // Prints a transfer's note on stderr, over the progress bar.
  NoteFn TerminalNote();
  void Print(const std::string& text, const Json& json);
  void StartHeartbeats();
  void StopHeartbeats();
  // One heartbeat, paging through the revocations waiting (at most
  // kRevokedPagesPerBeat replies); the first failure.
  Status Beat();

  const PeerConfig config_;
  const PeerClientOptions options_;
  std::ostream& out_;
  std::ostream& err_;
  // central's REST client, made by Central() on first use.
  DirectoryClient& Central();
  // Shared: connections carried to peers without their address ask it for
  // rendezvous from threads that may outlive this object.
  std::shared_ptr<DirectoryClient> directory_;
  std::unique_ptr<PeerCredentials> credentials_;  // made with directory_
  Status credentials_error_;
  std::optional<LoginReply> session_;
  std::string password_;  // the config's, or what `login` asked for
  Status login_failure_;  // why the start-up login was refused (OK: it was not)
  // The numbered rows of the last search or browse (a browse's folders
  // are rows with a name ending in '/' and no sha256).
  std::vector<FileResult> last_results_;
  std::vector<FileResult> browsed_;  // every file under the last browsed folder
  // Every file a table has shown (full sha256 -> name), so the short hash
  // printed there names it.
  std::map<std::string, std::string> shown_hashes_;
  std::vector<std::string> unsaved_shown_;  // shown since the last SaveShown
  // The table rows' hashes outlive the process (a script's next command
  // names a file by the short hash an earlier one printed):
  // <shared_dir>/.p2pshare/shown-hashes, "sha256<TAB>name" a line.
  std::string ShownFile() const;
  void Shown(const std::string& sha256, const std::string& name);
  void LoadShown();
  void SaveShown();
  std::string last_via_;     // "directory", or the friend that answered the last locate
  bool central_away_ = false;  // the start-up login found central unreachable
  std::vector<std::string> peer_names_;                      // for PeerNames()
  std::chrono::steady_clock::time_point peer_names_at_ = {};  // when central was asked
  bool quit_ = false;
  bool quit_warned_ = false;  // `quit` said transfers are running; the next one stops them
  std::function<void()> transfer_wake_;

  std::unique_ptr<Periodic> heartbeats_;
  std::atomic<int64_t> revoked_seq_{0};  // the revocations heard of (the last reply's cursor)
  // The URLs `stream` serves, until this ends (after the queue: a stream's
  // job reads its server).
  std::vector<std::shared_ptr<StreamServer>> streams_;
  // The background transfers (made by the first); last, so it goes first.
  std::unique_ptr<TransferQueue> queue_;
  std::unique_ptr<WishWatch> wish_watch_;  // the REPL's, once started
};

}  // namespace p2pshare::pclient
