#include "pclient/swarm.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "common/bounded_queue.h"
#include "common/hash_tree.h"
#include "common/hex.h"
#include "common/names.h"
#include "common/part_record.h"
#include "common/peer_channel.h"
#include "common/sha256.h"
#include "common/unique_fd.h"
#include "p2pshare.grpc.pb.h"
#include "pclient/format.h"
#include "pclient/transfer_io.h"

namespace p2pshare::pclient {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Holders fetched from at once, at most (sources that failed do not count).
constexpr size_t kMaxSources = 8;
// Pieces up to this size are held in memory until they are verified, and
// only then written (8 sources: 32 MiB at most). Larger ones (files over
// 16 GiB, or whatever size a holder claims) are never held whole: their
// bytes go to their place in the .part as they come, hashed on the way
// (PieceHasher), and the piece counts once its hash matched; no other
// source writes it meanwhile (no endgame race for them).
constexpr int64_t kBufferedPieceBytes = 4 << 20;
// How long a holder has to send the piece layer.
constexpr auto kLayerTimeout = std::chrono::seconds(10);
// What is read back from the .part at once (a piece may be a GiB).
constexpr int64_t kReadBackBytes = 1 << 20;
// Bytes one request asks for (a run of pieces): fewer calls, while a
// faster holder still comes back for more sooner than a slow one.
constexpr int64_t kRunBytes = 64 << 20;
// Verified bytes, or time, between two saves of which pieces are verified
// (each save waits for the disk: a crash loses at most this much).
constexpr int64_t kSaveEveryBytes = 32 << 20;
constexpr auto kSaveEvery = std::chrono::seconds(1);
// While this peer's peer-server offers the pieces to others, the record
// (what it may serve) is written more often.
constexpr auto kSaveEverySharing = std::chrono::milliseconds(250);
// A run lasts about this long at its source's rate so far (1 MiB before
// the source has a rate), within a piece and kRunBytes.
constexpr double kRunSeconds = 1.0;
constexpr int64_t kFirstRunBytes = 1 << 20;
// How often a download asks whether it should stop (the REPL's Ctrl-C).
constexpr auto kStopPoll = std::chrono::milliseconds(100);
// A run's pieces go to the disk in spans of this much (sync_file_range).
constexpr int64_t kWritebackBytes = 8 << 20;
constexpr int64_t kRandomStartBytes = 64 << 20;

enum class PieceState : uint8_t { kMissing, kInFlight, kVerified };

struct Source {
  Holder holder;
  int64_t bytes = 0;  // verified bytes it sent
  bool dropped = false;
  std::string why;
  int64_t queue_place = 0;  // waiting in its upload queue (0: not)
  int64_t first_place = 0;  // the place it first gave us (0: never queued)
  std::optional<Clock::time_point> since;  // when it began sending (for its rate)
  // A partial holder (still downloading the file): the pieces it had when
  // last asked, and when that was.
  bool partial = false;
  std::vector<uint8_t> have = {};
  Clock::time_point have_at = {};
};

bool Bit(const std::vector<uint8_t>& bits, int64_t i) {
  const auto byte = static_cast<size_t>(i / 8);
  return byte < bits.size() && ((bits[byte] >> (i % 8)) & 1u);
}

// How often a partial holder is asked which pieces it has now, and central
// for new holders (other downloaders who have pieces by now).
constexpr auto kHaveEvery = std::chrono::milliseconds(500);
constexpr auto kRefreshEvery = std::chrono::seconds(1);

// How a request to one source ended.
enum class Fetched { kOk, kDropped, kQueued };
// A queued client asks again this often (the holder keeps its place for 10 s).
constexpr auto kQueuePoll = std::chrono::seconds(1);

// The holders making each claim about the content — a (root, size) —
// most first; of as many, central's standing claim (the file's size)
// first. Holders that report no root are added to every group of their
// size (they told no lie). Partial holders join the group of their claim
// without counting as making it. Each group is downloaded as its own
// version: a claim that fails (its layer does not hash to its root, or the
// file to the sha256) costs only its own holders' turn.
struct RootGroup {
  Digest root{};
  int64_t size = 0;
  std::vector<Holder> holders;
  size_t reporting = 0;
};

// The size `h` claims for `f`.
int64_t ClaimedSize(const Holder& h, const FileResult& f) { return h.size >= 0 ? h.size : f.size; }

std::vector<RootGroup> GroupByRoot(const FileResult& f, const std::string& self) {
  std::vector<RootGroup> groups;
  std::vector<Holder> unrooted;
  for (const Holder& h : f.holders) {
    if (h.username == self) continue;
    Digest root{};
    if (h.root.empty() || !HexDecode(h.root, root)) {
      unrooted.push_back(h);
      continue;
    }
    const int64_t size = ClaimedSize(h, f);
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const RootGroup& g) { return g.root == root && g.size == size; });
    if (it == groups.end()) it = groups.insert(groups.end(), RootGroup{root, size, {}, 0});
    it->holders.push_back(h);
    if (!h.partial) it->reporting++;  // a peer still downloading repeats what it was told
  }
  std::stable_sort(groups.begin(), groups.end(), [&](const RootGroup& a, const RootGroup& b) {
    if (a.reporting != b.reporting) return a.reporting > b.reporting;
    return (a.size == f.size) > (b.size == f.size);
  });
  for (RootGroup& g : groups) {
    for (const Holder& h : unrooted) {
      if (ClaimedSize(h, f) == g.size) g.holders.push_back(h);
    }
  }
  return groups;
}

class Swarm {
 public:
  Swarm(const DownloadRequest& req, const RootGroup& group, const ProgressFn& progress, const NoteFn& note)
      : req_(req),
        f_(req.file),
        group_(group),
        progress_(progress),
        note_(note),
        piece_bytes_(PieceBytes(f_.size)),
        pieces_count_(PieceCount(f_.size)),
        start_(Clock::now()),
        start_window_(std::clamp<int64_t>(kRandomStartBytes / piece_bytes_, 1, pieces_count_)),
        first_pick_(static_cast<int64_t>(std::random_device{}() % static_cast<uint64_t>(start_window_))) {}

  // Gets a piece layer that matches the root from one of the holders.
  // False when none gave one.
  bool FetchLayer();
  // Opens the .part and reads which pieces are verified already.
  Status Prepare();
  // Fetches every missing piece. Unavailable when the holders could not.
  Status Run();
  // Checks the whole file's SHA-256 and puts it in place. DataLoss when the
  // hash differs: the root was a lie, the .part is removed.
  Result<DownloadResult> Finish();
  // Bytes verified so far (resumed ones included).
  int64_t verified_bytes() {
    std::lock_guard<std::mutex> lock(mu_);
    return verified_bytes_;
  }

 private:
  int64_t PieceSize(int64_t i) const { return std::min(piece_bytes_, f_.size - i * piece_bytes_); }
  // A run of missing pieces for `source` (or, in the endgame, one piece in
  // flight elsewhere); empty when nothing is left for it.
  std::vector<int64_t> Pick(size_t source);
  // Fetches `run` from `source`: kDropped when the source is dropped,
  // kQueued when it put us in its upload queue (the run is given back).
  Fetched Fetch(size_t source, const std::vector<int64_t>& run);
  // Notes `source`'s place in its queue (0: it serves us now).
  void Queued(size_t source, int64_t place);
  void Worker(size_t source);
  // Asks partial holder `source` which pieces it has now; false (and the
  // source dropped) when it cannot say or says nonsense.
  bool RefreshHave(size_t source);
  // Adds `h` as a source with its own worker, unless it is this peer, is
  // there already, reports another root, or the sources are full.
  // REQUIRES(mu_).
  bool AddSource(const Holder& h, std::vector<std::thread>* workers);
  // REQUIRES(mu_). Sources not dropped.
  size_t ActiveSources() const;
  // REQUIRES(mu_). Holders to try when there is room, in random order
  // (those known already are left out).
  void Offer(std::vector<Holder> holders);
  // REQUIRES(mu_). Adds waiting holders while fewer than kMaxSources serve.
  void Fill(std::vector<std::thread>* workers);

  // Whether pieces `first`..`last` are all verified.
  bool AllVerified(int64_t first, int64_t last);
  // Gives back the pieces of a run not verified.
  void Release(const std::vector<int64_t>& run, size_t from);
  void Drop(size_t source, const std::string& why);
  // A piece passed its hash: written (`data`; null: streamed to its place
  // already) and counted. `*won` false when another copy won the race.
  Status Accept(size_t source, int64_t piece, const std::string_view* data, bool* won);
  // Hashes the verified pieces after the frontier into the whole file's
  // SHA-256, in order, reading them back (from the page cache, mostly).
  void AdvanceFrontier();
  // Reads [offset, offset + size) of the .part in blocks of at most
  // kReadBackBytes, handing each to `take`; false on a short read.
  bool ReadRange(int64_t offset, int64_t size, const std::function<void(const char*, size_t)>& take);
  // A piece just verified from memory: hashed into the whole file's SHA-256
  // at once if it is the frontier (pieces from one holder arrive in order),
  // which saves reading it back.
  void TakeInOrder(int64_t piece, std::string_view data);
  // The keeper thread: the frontier and the record's saves, so the
  // receiving threads never wait for either (nor for the disk).
  void Keeper();
  Status SaveState();
  bool LoadState();
  void Progress();

  const DownloadRequest& req_;
  const FileResult& f_;
  const RootGroup& group_;
  const ProgressFn& progress_;
  const NoteFn& note_;
  const int64_t piece_bytes_;
  const int64_t pieces_count_;
  const Clock::time_point start_;
  // Where this download starts picking pieces: random within the first
  // kRandomStartBytes (start_window_ pieces), so downloaders that start
  // together fetch different pieces first and can trade them. Picking
  // wraps around within that window before it goes on in order, so the
  // whole file's SHA-256 (which must take the pieces in order) waits for
  // at most the window, not for the whole file.
  const int64_t start_window_;
  const int64_t first_pick_;
  std::vector<Digest> layer_;
  std::string part_path_, final_path_;
  UniqueFd part_;
  DownloadResult out_;

  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<PieceState> state_;              // GUARDED_BY(mu_)
  std::vector<std::vector<size_t>> fetching_;  // GUARDED_BY(mu_): sources at each piece
  std::vector<Source> sources_;                // GUARDED_BY(mu_)
  std::vector<grpc::ClientContext*> calls_;    // GUARDED_BY(mu_): each source's call, if any
  int64_t verified_ = 0;                       // GUARDED_BY(mu_)
  int64_t verified_bytes_ = 0;                 // GUARDED_BY(mu_)
  int64_t unsaved_bytes_ = 0;                  // GUARDED_BY(mu_)
  Clock::time_point last_save_ = Clock::now();  // GUARDED_BY(mu_)
  int active_workers_ = 0;                     // GUARDED_BY(mu_)
  std::minstd_rand random_{std::random_device{}()};  // GUARDED_BY(mu_)
  bool stop_ = false;                          // GUARDED_BY(mu_): Run is ending
  bool refill_ = false;                        // GUARDED_BY(mu_): a source was dropped
  std::deque<Holder> waiting_;                 // GUARDED_BY(mu_): holders not tried yet
  bool keeper_stop_ = false;                   // GUARDED_BY(mu_)
  Status local_error_;                         // GUARDED_BY(mu_)

  std::mutex save_mu_;  // one save at a time
  uint64_t save_seq_ = 0;

  std::mutex frontier_mu_;
  int64_t frontier_ = 0;  // pieces hashed into `whole_`, in order
  Sha256 whole_;

  std::mutex progress_mu_;
  std::atomic<int64_t> received_{0};  // bytes taken from holders (for --limit-rate)
};

bool Swarm::FetchLayer() {
  // Asked of kMaxSources holders at once, in random order, each within
  // kLayerTimeout: the first layer that hashes up to the root wins, so
  // holders that never answer cost one timeout, not one each.
  std::vector<Holder> holders = group_.holders;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::shuffle(holders.begin(), holders.end(), random_);
  }
  for (size_t wave = 0; wave < holders.size(); wave += kMaxSources) {
    std::mutex found_mu;
    std::optional<std::vector<Digest>> found;  // GUARDED_BY(found_mu)
    const size_t end = std::min(holders.size(), wave + kMaxSources);
    std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
    for (size_t i = wave; i < end; ++i) {
      contexts.push_back(std::make_unique<grpc::ClientContext>());
      contexts.back()->set_deadline(std::chrono::system_clock::now() + kLayerTimeout);
    }
    std::vector<std::thread> asking;
    for (size_t i = wave; i < end; ++i) {
      asking.emplace_back([&, i] {
        const Holder& h = holders[i];
        grpc::ClientContext& ctx = *contexts[i - wave];
        v1::PieceHashesRequest req;
        req.set_sha256(f_.sha256);
        v1::PieceHashesReply reply;
        if (!PeerStub(h.host, h.port, h.username)->PieceHashes(&ctx, req, &reply).ok()) return;  // another may answer
        std::vector<Digest> layer;
        bool well_formed = reply.size() == f_.size && reply.pieces_size() == pieces_count_;
        for (int k = 0; well_formed && k < reply.pieces_size(); ++k) {
          const std::string& p = reply.pieces(k);
          well_formed = p.size() == 32;
          if (!well_formed) break;
          Digest d;
          std::copy(p.begin(), p.end(), d.begin());
          layer.push_back(d);
        }
        if (!well_formed || !PiecesMatchRoot(layer, f_.size, group_.root)) {
          std::lock_guard<std::mutex> lock(progress_mu_);
          if (note_) note_("holder " + h.username + " sent piece hashes that do not match the root; skipping it");
          return;
        }
        std::lock_guard<std::mutex> lock(found_mu);
        if (found) return;
        found = std::move(layer);
        for (auto& other : contexts) other->TryCancel();  // the others need not answer now
      });
    }
    for (auto& t : asking) t.join();
    if (found) {
      layer_ = std::move(*found);
      return true;
    }
  }
  return false;
}

Status Swarm::Prepare() {
  fs::path final_path = fs::path(req_.dest_dir) / f_.name;
  final_path_ = final_path.string();
  part_path_ = final_path_ + kPartSuffix;
  out_.path = final_path_;
  std::error_code ec;
  fs::create_directories(final_path.parent_path(), ec);
  if (ec) return Internal("cannot create " + final_path.parent_path().string() + ": " + ec.message());
  part_ = UniqueFd(::open(part_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!part_.valid()) return Internal("cannot open " + part_path_ + ": " + std::strerror(errno));
  state_.assign(static_cast<size_t>(pieces_count_), PieceState::kMissing);
  fetching_.assign(static_cast<size_t>(pieces_count_), {});
  struct stat st;
  ::fstat(part_.get(), &st);
  const bool resumed = st.st_size == f_.size + 2 * static_cast<int64_t>(kPartSlotBytes) && LoadState();
  if (!resumed && st.st_size > 0 && st.st_size <= f_.size) {
    // A .part from a download that kept no record (one holder at a time):
    // its whole pieces are checked here, on this disk, not fetched again.
    PieceHasher hasher(piece_bytes_);
    for (int64_t i = 0; i < pieces_count_ && i * piece_bytes_ + PieceSize(i) <= st.st_size; ++i) {
      const bool read = ReadRange(i * piece_bytes_, PieceSize(i), [&](const char* data, size_t n) {
        hasher.Update(data, n);
      });
      if (!read || hasher.Finish() != layer_[static_cast<size_t>(i)]) break;
      state_[static_cast<size_t>(i)] = PieceState::kVerified;
    }
  } else if (!resumed) {
    (void)!::ftruncate(part_.get(), 0);
  }
  if (::ftruncate(part_.get(), f_.size + 2 * static_cast<int64_t>(kPartSlotBytes)) != 0) {
    return Internal("cannot size " + part_path_ + ": " + std::strerror(errno));
  }
  for (int64_t i = 0; i < pieces_count_; ++i) {
    if (state_[static_cast<size_t>(i)] != PieceState::kVerified) continue;
    verified_++;
    verified_bytes_ += PieceSize(i);
  }
  out_.resumed_at = verified_bytes_;
  if (verified_ > 0 && note_) {
    note_("resuming " + f_.name + ": " + HumanSize(verified_bytes_) + " of " + HumanSize(f_.size) +
          " are here already (" + std::to_string(verified_) + " of " + std::to_string(pieces_count_) +
          " pieces, verified again)");
  }
  // The record now matches the .part; both slots are written at once, so
  // their blocks are on disk before any piece (a full disk later still
  // leaves room to say which pieces made it).
  RETURN_IF_ERROR(SaveState());
  if (!resumed) RETURN_IF_ERROR(SaveState());
  // The whole file's SHA-256 over what is here already (read on this disk).
  AdvanceFrontier();
  if (!req_.partial_dir.empty()) {
    // This peer's peer-server serves the verified pieces to others meanwhile.
    Status described = WritePartialFile(req_.partial_dir, FileEntry{f_.name, f_.size, f_.sha256, HexEncode(group_.root.data(), group_.root.size())}, layer_);
    if (!described.ok() && note_) note_("cannot offer the pieces to others meanwhile: " + described.message());
  }
  return Status::Ok();
}

bool Swarm::LoadState() {
  std::optional<PartRecord> record = ReadPartRecord(part_.get(), f_.size, group_.root, pieces_count_);
  if (!record) return false;
  save_seq_ = record->seq;
  for (int64_t i = 0; i < pieces_count_; ++i) {
    if (record->Has(i)) state_[static_cast<size_t>(i)] = PieceState::kVerified;
  }
  return true;
}

Status Swarm::SaveState() {
  std::lock_guard<std::mutex> save(save_mu_);
  PartRecord record;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int64_t i = 0; i < pieces_count_; ++i) {
      if (state_[static_cast<size_t>(i)] == PieceState::kVerified) record.Set(i);
    }
    unsaved_bytes_ = 0;
  }
  // The pieces the record names reach the disk before the record does.
  if (::fdatasync(part_.get()) != 0) return Internal(std::string("fdatasync failed: ") + std::strerror(errno));
  record.seq = ++save_seq_;
  RETURN_IF_ERROR(WritePartRecord(part_.get(), f_.size, group_.root, pieces_count_, record));
  if (::fdatasync(part_.get()) != 0) return Internal(std::string("fdatasync failed: ") + std::strerror(errno));
  return Status::Ok();
}

void Swarm::TakeInOrder(int64_t piece, std::string_view data) {
  std::lock_guard<std::mutex> frontier(frontier_mu_);
  if (frontier_ != piece) return;  // the keeper reads it back later
  whole_.Update(data);
  frontier_++;
}

bool Swarm::ReadRange(int64_t offset, int64_t size, const std::function<void(const char*, size_t)>& take) {
  std::string buf(static_cast<size_t>(std::min<int64_t>(size, kReadBackBytes)), '\0');
  for (int64_t done = 0; done < size;) {
    const auto n = static_cast<size_t>(std::min<int64_t>(size - done, static_cast<int64_t>(buf.size())));
    if (::pread(part_.get(), buf.data(), n, offset + done) != static_cast<ssize_t>(n)) return false;
    take(buf.data(), n);
    done += static_cast<int64_t>(n);
  }
  return true;
}

void Swarm::AdvanceFrontier() {
  std::lock_guard<std::mutex> frontier(frontier_mu_);
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (frontier_ >= pieces_count_ || state_[static_cast<size_t>(frontier_)] != PieceState::kVerified) return;
    }
    // Verified, so on disk here (written before it was marked). A hash
    // context is copied so a failed read leaves the frontier where it was.
    Sha256 next;
    next.CopyFrom(whole_);
    if (!ReadRange(frontier_ * piece_bytes_, PieceSize(frontier_),
                   [&](const char* data, size_t n) { next.Update(data, n); })) {
      return;  // Finish finds the frontier short and says so
    }
    whole_.CopyFrom(next);
    frontier_++;
  }
}

void Swarm::Progress() {
  if (!progress_) return;
  TransferProgress p{0, f_.size, {}};
  {
    std::lock_guard<std::mutex> lock(mu_);
    p.done = verified_bytes_;
    const auto now = Clock::now();
    for (const Source& s : sources_) {
      const double secs = s.since ? std::chrono::duration<double>(now - *s.since).count() : 0;
      p.sources.push_back(SourceStatus{s.holder.username, s.bytes, secs > 0 ? s.bytes / secs : 0,
                                       s.queue_place, s.dropped});
    }
  }
  std::lock_guard<std::mutex> lock(progress_mu_);
  progress_(p);
}

void Swarm::Queued(size_t source, int64_t place) {
  std::string name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Source& s = sources_[source];
    if (s.queue_place == place) return;
    s.queue_place = place;
    if (s.first_place == 0) s.first_place = place;
    name = s.holder.username;
  }
  if (place > 0 && note_) {
    std::lock_guard<std::mutex> lock(progress_mu_);
    note_("queued at " + name + ": number " + std::to_string(place) +
          " for an upload slot; taking pieces from the others meanwhile");
  }
  Progress();
}

std::vector<int64_t> Swarm::Pick(size_t source) {
  std::lock_guard<std::mutex> lock(mu_);
  const Source& me = sources_[source];
  if (me.dropped || !local_error_.ok() || stop_) return {};
  auto has = [&](int64_t i) { return !me.partial || Bit(me.have, i); };
  auto missing = [&](int64_t i) { return state_[static_cast<size_t>(i)] == PieceState::kMissing; };
  // Pieces another downloader has can come from it; a whole holder is
  // asked first for the pieces only whole holders have (rarest first).
  bool any_partial = false;
  for (const Source& s : sources_) any_partial |= s.partial && !s.dropped && !s.have.empty();
  auto at_partial = [&](int64_t i) {
    for (const Source& s : sources_) {
      if (s.partial && !s.dropped && Bit(s.have, i)) return true;
    }
    return false;
  };
  int64_t left = 0;
  for (int64_t i = 0; i < pieces_count_; ++i) left += missing(i);
  // A run lasts about a second at the source's rate so far (aria2 and
  // AirDC++ size segments by speed): a slow source holds few pieces
  // others could fetch sooner. Runs also shrink towards the end (at most
  // half a source's share of what is left), so few pieces are in flight
  // when the endgame races them.
  // Until the source has a rate, each run is as large as all it has sent
  // so far (1 MiB first): a fast source reaches full runs in a few calls.
  int64_t run_bytes = std::max(kFirstRunBytes, me.bytes);
  if (me.since) {
    const double secs = std::chrono::duration<double>(Clock::now() - *me.since).count();
    if (secs > 0.2) run_bytes = static_cast<int64_t>(static_cast<double>(me.bytes) / secs * kRunSeconds);
  }
  run_bytes = std::clamp<int64_t>(run_bytes, piece_bytes_, kRunBytes);
  const int64_t max_run = std::clamp<int64_t>(left / (2 * static_cast<int64_t>(sources_.size())), 1,
                                              std::max<int64_t>(1, run_bytes / piece_bytes_));
  auto pickable = [&](int64_t i, bool rare_only) { return missing(i) && has(i) && (!rare_only || !at_partial(i)); };
  int64_t first = -1;
  bool rare_only = !me.partial && any_partial;
  if (rare_only) {
    // Of the pieces only whole holders have, a random one: downloaders
    // that learn of each other late still ask the seed for different ones.
    std::vector<int64_t> rare;
    for (int64_t i = 0; i < pieces_count_; ++i) {
      if (pickable(i, true)) rare.push_back(i);
    }
    if (!rare.empty()) first = rare[std::uniform_int_distribution<size_t>(0, rare.size() - 1)(random_)];
    rare_only = first >= 0;
  }
  // Otherwise in order from first_pick_, wrapping around within the
  // start window, then on from its end.
  for (int64_t k = 0; first < 0 && k < pieces_count_; ++k) {
    const int64_t i = k < start_window_ ? (first_pick_ + k) % start_window_ : k;
    if (pickable(i, false)) first = i;
  }
  std::vector<int64_t> run;
  for (int64_t i = first; first >= 0 && i < pieces_count_ && static_cast<int64_t>(run.size()) < max_run; ++i) {
    if (!pickable(i, rare_only)) break;  // a run is consecutive
    run.push_back(i);
  }
  if (run.empty() && left == 0) {
    // Endgame: every piece is verified or on its way. Race the one fewest
    // sources are fetching (a stalled holder's piece gets a second copy).
    int64_t best = -1;
    for (int64_t i = 0; i < pieces_count_; ++i) {
      const auto& at = fetching_[static_cast<size_t>(i)];
      if (state_[static_cast<size_t>(i)] != PieceState::kInFlight || !has(i)) continue;
      if (PieceSize(i) > kBufferedPieceBytes) continue;  // streamed to its place: one writer at a time
      if (std::find(at.begin(), at.end(), source) != at.end()) continue;
      if (best < 0 || at.size() < fetching_[static_cast<size_t>(best)].size()) best = i;
    }
    if (best >= 0) run.push_back(best);
  }
  for (int64_t i : run) {
    state_[static_cast<size_t>(i)] = PieceState::kInFlight;
    fetching_[static_cast<size_t>(i)].push_back(source);
  }
  return run;
}

void Swarm::Release(const std::vector<int64_t>& run, size_t from) {
  std::lock_guard<std::mutex> lock(mu_);
  for (int64_t i : run) {
    auto& at = fetching_[static_cast<size_t>(i)];
    at.erase(std::remove(at.begin(), at.end(), from), at.end());
    if (state_[static_cast<size_t>(i)] == PieceState::kInFlight && at.empty()) {
      state_[static_cast<size_t>(i)] = PieceState::kMissing;
    }
  }
  changed_.notify_all();
}

void Swarm::Drop(size_t source, const std::string& why) {
  std::string name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Source& s = sources_[source];
    if (s.dropped) return;
    s.dropped = true;
    s.why = why;
    name = s.holder.username;
    refill_ = true;  // its place goes to a holder not tried yet
    changed_.notify_all();
  }
  if (note_) {
    std::lock_guard<std::mutex> lock(progress_mu_);
    note_("holder " + name + " dropped: " + why);
  }
}

Status Swarm::Accept(size_t source, int64_t piece, const std::string_view* data, bool* won) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    *won = state_[static_cast<size_t>(piece)] != PieceState::kVerified;
  }
  if (!*won) return Status::Ok();
  // Two verified copies of one piece are the same bytes: writing both is
  // harmless, so the write needs no lock.
  if (data != nullptr) RETURN_IF_ERROR(WriteAll(part_.get(), data->data(), data->size(), piece * piece_bytes_));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_[static_cast<size_t>(piece)] == PieceState::kVerified) {
      *won = false;
      return Status::Ok();
    }
    state_[static_cast<size_t>(piece)] = PieceState::kVerified;
    verified_++;
    verified_bytes_ += PieceSize(piece);
    unsaved_bytes_ += PieceSize(piece);
    sources_[source].bytes += PieceSize(piece);
    if (verified_ == pieces_count_) {  // the endgame's other copies are not needed
      for (grpc::ClientContext* call : calls_) {
        if (call != nullptr) call->TryCancel();
      }
    }
    changed_.notify_all();
  }
  Progress();
  return Status::Ok();
}

void Swarm::Keeper() {
  const Clock::duration every = req_.partial_dir.empty() ? Clock::duration(kSaveEvery) : Clock::duration(kSaveEverySharing);
  for (;;) {
    bool stop, save;
    {
      std::unique_lock<std::mutex> lock(mu_);
      changed_.wait_for(lock, std::chrono::milliseconds(50));
      stop = keeper_stop_;
      save = !stop && (unsaved_bytes_ >= kSaveEveryBytes || Clock::now() - last_save_ >= every);
      if (save) last_save_ = Clock::now();
    }
    AdvanceFrontier();
    if (stop) return;  // Run saves the last record itself
    if (!save) continue;
    Status saved = SaveState();
    if (!saved.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (local_error_.ok()) local_error_ = saved;
      changed_.notify_all();
    }
  }
}

Fetched Swarm::Fetch(size_t source, const std::vector<int64_t>& run) {
  Holder holder;
  {
    std::lock_guard<std::mutex> lock(mu_);
    holder = sources_[source].holder;
  }
  const int64_t first = run.front();
  const int64_t begin = first * piece_bytes_;
  const int64_t end = std::min(f_.size, (run.back() + 1) * piece_bytes_);
  auto stub = PeerStub(holder.host, holder.port, holder.username);
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineFor(end - begin, req_.limit_rate));
  v1::DownloadRequest dl;
  dl.set_sha256(f_.sha256);
  dl.set_offset(begin);
  dl.set_length(end - begin);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (verified_ == pieces_count_) return Fetched::kOk;
    calls_[source] = &ctx;
  }
  auto reader = stub->Download(&ctx, dl);
  // A source that sends nothing (after it was asked, or in the middle of
  // the run) is cut off, and dropped below: its place goes to another.
  CallWatch watch(&ctx);
  // This thread only reads (gRPC decrypts in the reading thread); a
  // verifier takes the chunks, checks each piece against the layer,
  // writes it and marks it verified, so hashing and the disk never hold
  // up the stream. One chunk may wait between them.
  BoundedQueue<std::pair<int64_t, std::string>> chunks(1);
  int64_t unverified = first;    // the run's first piece the verifier has not accepted
  int64_t written_back = begin;  // the run's bytes before this were handed to the disk
  std::string failure;           // why the source is dropped (the verifier's, once it stops)
  std::thread verifier([&] {
    const bool streamed = piece_bytes_ > kBufferedPieceBytes;
    std::string assembled;               // a buffered piece that spans chunks
    PieceHasher hasher(piece_bytes_);    // a streamed piece, hashed as it comes
    auto local_error = [&](const Status& st) {
      std::lock_guard<std::mutex> lock(mu_);
      if (local_error_.ok()) local_error_ = st;
      failure = "local error";
      return false;
    };
    // Accepts one whole piece whose hash is `digest` (its bytes `data`,
    // to be written; null: streamed, written already): false when it is
    // bad (or cannot be written), with `failure` set.
    auto take = [&](int64_t piece, const Digest& digest, const std::string_view* data) {
      if (digest != layer_[static_cast<size_t>(piece)]) {
        failure = "sent bad data for piece " + std::to_string(piece) + " (bytes " +
                  std::to_string(piece * piece_bytes_) + "-" +
                  std::to_string(piece * piece_bytes_ + PieceSize(piece) - 1) + "): it failed its hash";
        return false;
      }
      bool won = false;
      if (Status st = Accept(source, piece, data, &won); !st.ok()) return local_error(st);
      Release({piece}, source);
      unverified = piece + 1;
      if (won && data != nullptr) TakeInOrder(piece, *data);
      // Start the disk write of each 8 MiB the run brings, without
      // waiting for it: the record's fdatasync (and the one before the
      // rename) then wait for little.
      const int64_t written = piece * piece_bytes_ + PieceSize(piece);
      if (written - written_back >= kWritebackBytes || piece == run.back()) {
        ::sync_file_range(part_.get(), written_back, written - written_back, SYNC_FILE_RANGE_WRITE);
        written_back = written;
      }
      return true;
    };
    while (auto next = chunks.Pop()) {
      const auto& [offset, data] = *next;
      for (size_t used = 0; used < data.size();) {
        const int64_t at = offset + static_cast<int64_t>(used);
        const int64_t piece = at / piece_bytes_;
        const size_t n = std::min(data.size() - used, static_cast<size_t>(piece * piece_bytes_ + PieceSize(piece) - at));
        bool ok = true;
        const std::string_view part = std::string_view(data).substr(used, n);
        if (streamed) {
          // To its place at once (this source alone writes this piece);
          // counted only once the whole piece matches.
          if (Status st = WriteAll(part_.get(), part.data(), part.size(), at); !st.ok()) {
            ok = local_error(st);
          } else {
            hasher.Update(part.data(), part.size());
            if (hasher.fed() == PieceSize(piece)) ok = take(piece, hasher.Finish(), nullptr);
          }
        } else if (assembled.empty() && static_cast<int64_t>(n) == PieceSize(piece)) {
          ok = take(piece, PieceHash(part, piece_bytes_), &part);  // whole in this chunk: no copy
        } else {
          assembled.append(part);
          if (static_cast<int64_t>(assembled.size()) == PieceSize(piece)) {
            const std::string_view whole = assembled;
            ok = take(piece, PieceHash(whole, piece_bytes_), &whole);
            assembled.clear();
          }
        }
        if (!ok) {
          chunks.Close();  // the reader stops at its next chunk
          ctx.TryCancel();
          return;
        }
        used += n;
      }
    }
  });
  v1::Chunk chunk;
  int64_t at = begin;  // next byte expected
  bool first_chunk = true;
  std::string read_failure;
  bool stream_ended = false;  // by the holder: Finish() says why
  while (at < end) {
    if (!reader->Read(&chunk)) {
      stream_ended = true;
      break;
    }
    if (first_chunk) {
      first_chunk = false;
      if (chunk.info().sha256() != f_.sha256 || chunk.info().size() != f_.size) {
        read_failure = "holds another version of the file";
        break;
      }
      Queued(source, 0);
      std::lock_guard<std::mutex> lock(mu_);
      if (!sources_[source].since) sources_[source].since = Clock::now();
    }
    const int64_t n = static_cast<int64_t>(chunk.data().size());
    if (chunk.offset() != at || at + n > end) {
      read_failure = "sent bytes out of order";
      break;
    }
    if (req_.limit_rate > 0) {  // hold the download's average rate at the limit
      const int64_t total = received_.fetch_add(n) + n;
      std::this_thread::sleep_until(start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                                                 static_cast<double>(total) / static_cast<double>(req_.limit_rate))));
    }
    std::string data;
    data.swap(*chunk.mutable_data());
    if (!chunks.Push({at, std::move(data)})) break;  // the verifier stopped
    watch.Progress();  // the holder's turn again from here (not counting our own waits)
    at += n;
    // The rest of the run was verified meanwhile (the endgame's other copy): stop.
    if (at < end && AllVerified(at / piece_bytes_, run.back())) break;
  }
  chunks.Close();
  verifier.join();
  if (failure.empty()) failure = std::move(read_failure);
  if (unverified <= run.back() && !stream_ended) ctx.TryCancel();  // we stopped reading: end the call
  grpc::Status s = reader->Finish();
  {
    std::lock_guard<std::mutex> lock(mu_);
    calls_[source] = nullptr;
  }
  if (failure.empty()) failure = watch.why();
  Release(std::vector<int64_t>(run.begin() + (unverified - first), run.end()), source);
  if (first_chunk && s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED && s.error_details() == "queued") {
    // All its upload slots are busy: wait our turn there, others serve meanwhile.
    int64_t place = 1;
    const auto& trailers = ctx.GetServerTrailingMetadata();
    if (auto it = trailers.find("p2pshare-queue-place"); it != trailers.end()) {
      place = std::clamp<int64_t>(std::atoll(std::string(it->second.data(), it->second.size()).c_str()), 1, 1000000);
    }
    Queued(source, place);
    return Fetched::kQueued;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ && failure.empty()) return Fetched::kOk;  // cancelled by Run: the source did nothing wrong
  }
  if (failure.empty() && unverified <= run.back() && !AllVerified(unverified, run.back())) {
    failure = s.ok() ? "ended the stream early" : s.error_message();
  }
  if (failure.empty()) return Fetched::kOk;
  if (failure != "local error") Drop(source, failure);
  return Fetched::kDropped;
}

bool Swarm::AllVerified(int64_t first, int64_t last) {
  std::lock_guard<std::mutex> lock(mu_);
  for (int64_t i = first; i <= last; ++i) {
    if (state_[static_cast<size_t>(i)] != PieceState::kVerified) return false;
  }
  return true;
}

bool Swarm::RefreshHave(size_t source) {
  Holder holder;
  {
    std::lock_guard<std::mutex> lock(mu_);
    holder = sources_[source].holder;
  }
  auto stub = PeerStub(holder.host, holder.port, holder.username);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::PieceHashesRequest req;
  req.set_sha256(f_.sha256);
  req.set_have_only(true);
  v1::PieceHashesReply reply;
  grpc::Status s = stub->PieceHashes(&ctx, req, &reply);
  if (!s.ok()) {
    Drop(source, "cannot say which pieces it has: " + s.error_message());
    return false;
  }
  Digest root{};
  const bool same = reply.size() == f_.size && HexDecode(reply.root(), root) && root == group_.root;
  const std::string& have = reply.have();
  if (!same || (!have.empty() && have.size() != static_cast<size_t>((pieces_count_ + 7) / 8))) {
    Drop(source, "its list of pieces does not match the file");
    return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  Source& me = sources_[source];
  if (have.empty()) {
    me.have.assign(static_cast<size_t>((pieces_count_ + 7) / 8), 0xff);  // all of it by now
  } else {
    me.have.assign(have.begin(), have.end());
  }
  me.have_at = Clock::now();
  return true;
}

void Swarm::Worker(size_t source) {
  for (;;) {
    bool partial;
    {
      std::lock_guard<std::mutex> lock(mu_);
      partial = sources_[source].partial && Clock::now() - sources_[source].have_at >= kHaveEvery;
    }
    if (partial && !RefreshHave(source)) break;
    std::vector<int64_t> run = Pick(source);
    if (run.empty()) {
      // Nothing to ask for: done, or wait while the last pieces may yet
      // come back (a source failing releases its pieces) or, from a
      // partial holder, until it has more.
      std::unique_lock<std::mutex> lock(mu_);
      if (verified_ == pieces_count_ || sources_[source].dropped || !local_error_.ok() || stop_) break;
      changed_.wait_for(lock, sources_[source].partial ? kHaveEvery : std::chrono::milliseconds(200));
      continue;
    }
    const Fetched got = Fetch(source, run);
    if (got == Fetched::kDropped) break;
    if (got == Fetched::kQueued) {
      std::unique_lock<std::mutex> lock(mu_);
      changed_.wait_for(lock, kQueuePoll, [&] { return verified_ == pieces_count_ || !local_error_.ok() || stop_; });
      if (verified_ == pieces_count_ || !local_error_.ok() || stop_) break;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  active_workers_--;
  changed_.notify_all();
}

size_t Swarm::ActiveSources() const {
  return static_cast<size_t>(
      std::count_if(sources_.begin(), sources_.end(), [](const Source& s) { return !s.dropped; }));
}

void Swarm::Offer(std::vector<Holder> holders) {
  // Random order, never by name: holders that serve nothing cannot take
  // every place by sorting first.
  std::shuffle(holders.begin(), holders.end(), random_);
  for (Holder& h : holders) {
    const bool known = std::any_of(sources_.begin(), sources_.end(),
                                   [&](const Source& s) { return s.holder.username == h.username; }) ||
                       std::any_of(waiting_.begin(), waiting_.end(),
                                   [&](const Holder& w) { return w.username == h.username; });
    if (!known) waiting_.push_back(std::move(h));
  }
}

void Swarm::Fill(std::vector<std::thread>* workers) {
  while (ActiveSources() < kMaxSources && !waiting_.empty()) {
    Holder h = std::move(waiting_.front());
    waiting_.pop_front();
    AddSource(h, workers);
  }
}

bool Swarm::AddSource(const Holder& h, std::vector<std::thread>* workers) {
  if (h.username == req_.own_username || ActiveSources() >= kMaxSources) return false;
  for (const Source& s : sources_) {
    if (s.holder.username == h.username) return false;
  }
  Digest root{};
  if (!h.root.empty() && (!HexDecode(h.root, root) || root != group_.root)) return false;  // another version
  if (h.size >= 0 && h.size != f_.size) return false;  // another version, or a lie
  if (h.partial && h.root.empty()) return false;
  Source s{h, 0, false, "", 0, 0, std::nullopt};
  s.partial = h.partial;
  sources_.push_back(std::move(s));
  calls_.push_back(nullptr);
  active_workers_++;
  const size_t i = sources_.size() - 1;
  workers->emplace_back([this, i] { Worker(i); });
  return true;
}

Status Swarm::Run() {
  std::thread keeper([this] { Keeper(); });
  std::vector<std::thread> workers;
  std::unique_lock<std::mutex> lock(mu_);
  Offer(group_.holders);
  Fill(&workers);
  lock.unlock();
  Progress();
  lock.lock();
  // Every so often central is asked again: other downloaders of the file
  // join as partial holders once they have pieces.
  auto next_refresh = Clock::now() + kRefreshEvery;
  auto last_progress = Clock::now();
  int64_t last_verified = verified_;
  bool stopped = false;  // by stop_requested
  for (;;) {
    // A stop request cannot wake this wait: it is asked a few times a second.
    const auto wake = req_.stop_requested ? std::min(next_refresh, Clock::now() + kStopPoll) : next_refresh;
    changed_.wait_until(lock, wake, [&] {
      return verified_ == pieces_count_ || !local_error_.ok() || active_workers_ == 0 || refill_;
    });
    if (verified_ == pieces_count_ || !local_error_.ok()) break;
    // A source that failed gives its place to a holder not tried yet.
    refill_ = false;
    Fill(&workers);
    if (req_.stop_requested && req_.stop_requested()) {
      stopped = true;
      for (grpc::ClientContext* call : calls_) {
        if (call != nullptr) call->TryCancel();
      }
      break;
    }
    const auto now = Clock::now();
    if (verified_ != last_verified) {
      last_verified = verified_;
      last_progress = now;
    }
    // Only partial holders left, none of which has had anything new for a
    // minute: they will not finish it.
    bool whole_alive = false;
    for (const Source& s : sources_) whole_alive |= !s.partial && !s.dropped;
    if (!whole_alive && now - last_progress > std::chrono::seconds(60)) break;
    if (now < next_refresh && active_workers_ > 0) continue;
    const size_t before = sources_.size();
    if (req_.refresh_holders) {
      lock.unlock();
      auto fresh = req_.refresh_holders();
      lock.lock();
      if (fresh.ok()) Offer(*fresh);
    }
    Fill(&workers);
    next_refresh = Clock::now() + kRefreshEvery;
    if (active_workers_ == 0 && sources_.size() == before && waiting_.empty()) break;
  }
  stop_ = true;
  changed_.notify_all();
  out_.sources = static_cast<int>(sources_.size());
  lock.unlock();
  // Every worker returns once no piece is left for it (a waiting one wakes
  // at each change and at least every 500 ms).
  for (auto& t : workers) t.join();
  {
    std::lock_guard<std::mutex> stop(mu_);
    keeper_stop_ = true;
    changed_.notify_all();
  }
  keeper.join();
  Status saved = SaveState();
  lock.lock();
  for (const Source& s : sources_) {
    if (s.bytes > 0) {
      out_.from.push_back(s.holder.username);
      out_.bytes_from[s.holder.username] = s.bytes;
      out_.fetched += s.bytes;
    }
    if (s.dropped) out_.dropped.emplace_back(s.holder.username, s.why);
    if (s.first_place > 0) out_.queued_at[s.holder.username] = s.first_place;
  }
  if (verified_ == 0) {  // nothing worth keeping for a resume
    ::unlink(part_path_.c_str());
    if (!req_.partial_dir.empty()) RemovePartialFile(req_.partial_dir, f_.sha256);
  }
  RETURN_IF_ERROR(local_error_);
  RETURN_IF_ERROR(saved);
  if (stopped && verified_ < pieces_count_) {
    return Status(Code::kCancelled, "stopped; " + HumanSize(verified_bytes_) + " of " + HumanSize(f_.size) +
                                        " verified are kept: 'download " + f_.sha256 + "' resumes it");
  }
  if (verified_ < pieces_count_) {
    std::string why;
    for (const Source& s : sources_) why += (why.empty() ? "" : "; ") + s.holder.username + ": " + s.why;
    return Unavailable("could not complete " + f_.name + " (" + std::to_string(verified_bytes_) + " of " +
                           std::to_string(f_.size) + " bytes verified; " + why +
                           "); run download again to resume",
                       "no_holder");
  }
  return Status::Ok();
}

Result<DownloadResult> Swarm::Finish() {
  AdvanceFrontier();  // whatever the keeper left
  std::string got;
  {
    std::lock_guard<std::mutex> frontier(frontier_mu_);
    if (frontier_ != pieces_count_) return Internal("cannot read back " + part_path_);
    got = whole_.FinishHex();
  }
  if (got != f_.sha256) {
    ::unlink(part_path_.c_str());
    if (!req_.partial_dir.empty()) RemovePartialFile(req_.partial_dir, f_.sha256);
    return Status(Code::kDataLoss, "every piece matched the tree root the holders " + [&] {
      std::string names;
      for (const Holder& h : group_.holders) names += (names.empty() ? "" : ", ") + h.username;
      return names;
    }() + " reported, but the file hashes to " + got.substr(0, 12) + ", not " + f_.sha256.substr(0, 12) +
                                       ": that root is a lie; nothing was saved");
  }
  if (::ftruncate(part_.get(), f_.size) != 0) return Internal("cannot cut " + part_path_ + ": " + std::strerror(errno));
  // Whole now: served as a file of the shared folder (if it is in it), not in part.
  if (!req_.partial_dir.empty()) RemovePartialFile(req_.partial_dir, f_.sha256);
  RETURN_IF_ERROR(PlaceDownload(part_.get(), part_path_, final_path_));
  out_.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  return out_;
}

}  // namespace

Result<DownloadResult> SwarmDownload(const DownloadRequest& req, const ProgressFn& progress,
                                     const NoteFn& note) {
  const FileResult& f = req.file;
  if (req.verify_only) return Status(Code::kUnimplemented, "--verify-only reads one holder in order");
  if (f.size == 0) return Status(Code::kUnimplemented, "an empty file has no pieces to fetch");
  Status name_ok = CheckSharedName(f.name);
  if (!name_ok.ok()) return InvalidArgument("refusing to save '" + f.name + "': " + name_ok.message());
  if (!IsSha256Hex(f.sha256) || f.size < 0) return InvalidArgument("bad file description from central");
  std::error_code ec;
  if (fs::exists(fs::path(req.dest_dir) / f.name, ec)) {
    return Status(Code::kUnimplemented, "a file is at the path already: checked whole");
  }
  std::vector<RootGroup> groups = GroupByRoot(f, req.own_username);
  // The version a .part here was verified against comes first, whatever the
  // vote: its verified pieces are kept, never cut away by another claim.
  {
    const std::string part_path = (fs::path(req.dest_dir) / f.name).string() + kPartSuffix;
    UniqueFd part(::open(part_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    struct stat st {};
    if (part.valid() && ::fstat(part.get(), &st) == 0) {
      auto mine = std::find_if(groups.begin(), groups.end(), [&](const RootGroup& g) {
        return st.st_size == g.size + 2 * static_cast<int64_t>(kPartSlotBytes) &&
               ReadPartRecord(part.get(), g.size, g.root, PieceCount(g.size)).has_value();
      });
      if (mine != groups.end()) std::rotate(groups.begin(), mine, mine + 1);
    }
  }
  bool started = false;
  Status last = Status(Code::kUnimplemented, "no holder reports a hash tree for " + f.name);
  for (size_t g = 0; g < groups.size(); ++g) {
    const RootGroup& group = groups[g];
    if (group.reporting == 0) continue;
    DownloadRequest version = req;  // this claim's size
    version.file.size = group.size;
    Swarm swarm(version, group, progress, note);
    if (!swarm.FetchLayer()) continue;
    started = true;
    RETURN_IF_ERROR(swarm.Prepare());
    Status ran = swarm.Run();
    const bool more = g + 1 < groups.size();
    if (!ran.ok()) {
      // Holders of one claim that served nothing (gone, stalled, or never
      // meant to serve) leave nothing to keep: the next claim's turn.
      if (ran.code() != Code::kUnavailable || swarm.verified_bytes() > 0 || !more) return ran;
      last = ran;
      if (note) note("no holder of that version sent a verified piece; trying the holders of another");
      continue;
    }
    auto done = swarm.Finish();
    if (done.ok() || done.status().code() != Code::kDataLoss) return done;
    last = done.status();
    if (note) note(last.message() + (more ? "; trying the holders of another root" : ""));
  }
  if (!started) return Status(Code::kUnimplemented, "no holder gave a piece layer matching its root");
  return last;
}

}  // namespace p2pshare::pclient
