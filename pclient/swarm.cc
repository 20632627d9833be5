#include "pclient/swarm.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "common/hash_tree.h"
#include "common/hex.h"
#include "common/mutex.h"
#include "common/names.h"
#include "common/part_record.h"
#include "common/peer_channel.h"
#include "common/sha256.h"
#include "common/unique_fd.h"
#include "p2pshare.grpc.pb.h"
#include "pclient/format.h"
#include "pclient/peer_words.h"
#include "pclient/piece_picker.h"
#include "pclient/range_receiver.h"
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
// Streaming: the bytes just ahead of the reader that are fetched first.
constexpr int64_t kStreamAheadBytes = 8 << 20;
// While this peer's peer-server offers the pieces to others, the record
// (what it may serve) is written more often.
constexpr auto kSaveEverySharing = std::chrono::milliseconds(250);
// A run lasts about this long at its source's rate so far (1 MiB before
// the source has a rate), within a piece and kRunBytes.
constexpr double kRunSeconds = 1.0;
constexpr int64_t kFirstRunBytes = 1 << 20;
// How often a download asks whether it should stop (the REPL's Ctrl-C).
constexpr auto kStopPoll = std::chrono::milliseconds(100);
constexpr int64_t kRandomStartBytes = 64 << 20;

struct Source {
  Holder holder;
  int64_t bytes = 0;  // verified bytes it sent
  bool dropped = false;
  std::string why;
  int64_t queue_place = 0;  // waiting in its upload queue (0: not)
  int64_t first_place = 0;  // the place it first gave us (0: never queued)
  std::optional<Clock::time_point> since;  // when it began sending (for its rate)
  // A partial holder (still downloading the file): when it was last asked
  // which pieces it has (the picker keeps what it said).
  Clock::time_point have_at = {};
};

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
        pacer_(req.limit_rate),
        picker_(f_.size, piece_bytes_, kRandomStartBytes / piece_bytes_, kBufferedPieceBytes, std::random_device{}()) {}

  // Gets a piece layer that matches the root from one of the holders.
  // False when none gave one; then `*why` says what each did ("alice went
  // offline; ...").
  bool FetchLayer(std::string* why);
  // Opens the .part and reads which pieces are verified already.
  Status Prepare();
  // Fetches every missing piece. Unavailable when the holders could not.
  Status Run() EXCLUDES(mu_);
  // Checks the whole file's SHA-256 and puts it in place. DataLoss when the
  // hash differs: the root was a lie, the .part is removed.
  Result<DownloadResult> Finish();
  // Bytes verified so far (resumed ones included).
  int64_t verified_bytes() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return picker_.verified_bytes();
  }

 private:
  friend class PieceSink;

  int64_t PieceSize(int64_t i) const { return std::min(piece_bytes_, f_.size - i * piece_bytes_); }
  // The pieces `source` asks for next (PiecePicker), as many as it sends
  // in about a second; empty when nothing is left for it.
  std::vector<int64_t> Pick(size_t source) EXCLUDES(mu_);
  // Fetches `run` from `source`: kDropped when the source is dropped,
  // kQueued when it put us in its upload queue (the run is given back).
  Fetched Fetch(size_t source, const std::vector<int64_t>& run) EXCLUDES(mu_);
  // Notes `source`'s place in its queue (0: it serves us now).
  void Queued(size_t source, int64_t place) EXCLUDES(mu_);
  void Worker(size_t source) EXCLUDES(mu_);
  // Asks partial holder `source` which pieces it has now; false (and the
  // source dropped) when it cannot say or says nonsense.
  bool RefreshHave(size_t source) EXCLUDES(mu_);
  // Adds `h` as a source with its own worker, unless it is this peer, is
  // there already, reports another root, or the sources are full.
  bool AddSource(const Holder& h, std::vector<std::thread>* workers) REQUIRES(mu_);
  // Sources not dropped.
  size_t ActiveSources() const REQUIRES(mu_);
  // Holders to try when there is room, in random order
  // (those known already are left out).
  void Offer(std::vector<Holder> holders) REQUIRES(mu_);
  // Adds waiting holders while fewer than kMaxSources serve.
  void Fill(std::vector<std::thread>* workers) REQUIRES(mu_);
  // Whether the download should end now: complete, failed
  // locally, or nothing can come any more. `stopped` when the user asked.
  bool Supervise(std::vector<std::thread>* workers, bool* stopped) REQUIRES(mu_);
  // The result's account of the sources, and the error
  // that ends an incomplete download.
  Status Conclude(bool stopped) REQUIRES(mu_);

  // Whether pieces `first`..`last` are all verified.
  bool AllVerified(int64_t first, int64_t last) EXCLUDES(mu_);
  // Gives back the pieces of a run not verified.
  void Release(const std::vector<int64_t>& run, size_t from) EXCLUDES(mu_);
  void Drop(size_t source, const std::string& why) EXCLUDES(mu_);
  // A download-wide error here (a full disk): every source stops.
  void LocalError(const Status& error) EXCLUDES(mu_);
  // A piece passed its hash: written (`data`; null: streamed to its place
  // already) and counted. `*won` false when another copy won the race.
  Status Accept(size_t source, int64_t piece, const std::string_view* data, bool* won) EXCLUDES(mu_);
  // Hashes the verified pieces after the frontier into the whole file's
  // SHA-256, in order, reading them back (from the page cache, mostly).
  void AdvanceFrontier() EXCLUDES(mu_);
  // Reads [offset, offset + size) of the .part in blocks of at most
  // kReadBackBytes, handing each to `take`; false on a short read.
  bool ReadRange(int64_t offset, int64_t size, const std::function<void(const char*, size_t)>& take);
  // A piece just verified from memory: hashed into the whole file's SHA-256
  // at once if it is the frontier (pieces from one holder arrive in order),
  // which saves reading it back.
  void TakeInOrder(int64_t piece, std::string_view data);
  // Marks the whole pieces of a .part that kept no record (written by the
  // in-order strategy) that match the layer: checked here, not fetched again.
  void AdoptPrefix(int64_t part_size) EXCLUDES(mu_);
  // The keeper thread: the frontier and the record's saves, so the
  // receiving threads never wait for either (nor for the disk).
  void Keeper() EXCLUDES(mu_);
  Status SaveState() EXCLUDES(mu_);
  bool LoadState() EXCLUDES(mu_);
  void Progress() EXCLUDES(mu_);
  // The note and progress callbacks, one at a time.
  void Note(const std::string& line);

  const DownloadRequest& req_;
  const FileResult& f_;
  const RootGroup& group_;
  const ProgressFn& progress_;
  const NoteFn& note_;
  const int64_t piece_bytes_;
  const int64_t pieces_count_;
  const Clock::time_point start_;
  Pacer pacer_;  // holds the download's average rate at --limit-rate
  std::vector<Digest> layer_;
  std::string part_path_, final_path_;
  UniqueFd part_;
  DownloadResult out_;

  Mutex mu_;
  CondVar changed_;
  PiecePicker picker_ GUARDED_BY(mu_);
  std::vector<Source> sources_ GUARDED_BY(mu_);  // numbered as in picker_
  std::vector<grpc::ClientContext*> calls_ GUARDED_BY(mu_);  // each source's call, if any
  int64_t unsaved_bytes_ GUARDED_BY(mu_) = 0;
  Clock::time_point last_save_ GUARDED_BY(mu_) = Clock::now();
  int active_workers_ GUARDED_BY(mu_) = 0;
  std::minstd_rand random_ GUARDED_BY(mu_){std::random_device{}()};
  bool stop_ GUARDED_BY(mu_) = false;  // Run is ending
  bool refill_ GUARDED_BY(mu_) = false;  // a source was dropped
  std::deque<Holder> waiting_ GUARDED_BY(mu_);  // holders not tried yet
  bool keeper_stop_ GUARDED_BY(mu_) = false;
  Status local_error_ GUARDED_BY(mu_);
  // Run's supervision.
  Clock::time_point next_refresh_ GUARDED_BY(mu_) = {};
  Clock::time_point last_progress_ GUARDED_BY(mu_) = {};
  int64_t last_verified_ GUARDED_BY(mu_) = 0;

  Mutex save_mu_;  // one save at a time
  uint64_t save_seq_ GUARDED_BY(save_mu_) = 0;

  Mutex frontier_mu_;
  int64_t frontier_ GUARDED_BY(frontier_mu_) = 0;  // pieces hashed into `whole_`, in order
  Sha256 whole_ GUARDED_BY(frontier_mu_);

  Mutex progress_mu_;
};

// Receives one run of pieces from one source: checks each piece against the
// layer as it completes, writes it and marks it verified (Swarm::Accept).
// Pieces up to kBufferedPieceBytes are held until they match; larger ones
// go to their place as they come, hashed on the way, and count once the
// whole piece matched (no other source writes them meanwhile).
class PieceSink : public RangeSink {
 public:
  PieceSink(Swarm& swarm, size_t source, const std::vector<int64_t>& run)
      : s_(swarm),
        source_(source),
        run_(run),
        unverified_(run.front()),
        written_back_(run.front() * swarm.piece_bytes_),
        hasher_(swarm.piece_bytes_) {}

  bool Take(int64_t offset, std::string_view data) override;
  void Started() override;
  bool Enough(int64_t next) override { return s_.AllVerified(next / s_.piece_bytes_, run_.back()); }

  // The run's first piece not accepted yet.
  int64_t unverified() const { return unverified_; }
  // Why the source should be dropped ("local error": not its fault).
  const std::string& failure() const { return failure_; }

 private:
  // Accepts one whole piece whose hash is `digest` (its bytes `data`, to be
  // written; null: streamed, written already): false when it is bad (or
  // cannot be written), with failure_ set.
  bool TakePiece(int64_t piece, const Digest& digest, const std::string_view* data);
  bool LocalError(const Status& st) {
    s_.LocalError(st);
    failure_ = "local error";
    return false;
  }

  Swarm& s_;
  const size_t source_;
  const std::vector<int64_t>& run_;
  int64_t unverified_;
  int64_t written_back_;  // the run's bytes before this were handed to the disk
  std::string failure_;
  std::string assembled_;  // a buffered piece that spans chunks
  PieceHasher hasher_;     // a streamed piece, hashed as it comes
};

void PieceSink::Started() {
  s_.Queued(source_, 0);
  MutexLock lock(s_.mu_);
  if (!s_.sources_[source_].since) s_.sources_[source_].since = Clock::now();
}

bool PieceSink::TakePiece(int64_t piece, const Digest& digest, const std::string_view* data) {
  if (digest != s_.layer_[static_cast<size_t>(piece)]) {
    failure_ = "sent bad data for piece " + std::to_string(piece) + " (bytes " +
               std::to_string(piece * s_.piece_bytes_) + "-" +
               std::to_string(piece * s_.piece_bytes_ + s_.PieceSize(piece) - 1) + "): it failed its hash";
    return false;
  }
  bool won = false;
  if (Status st = s_.Accept(source_, piece, data, &won); !st.ok()) return LocalError(st);
  s_.Release({piece}, source_);
  unverified_ = piece + 1;
  if (won && data != nullptr) s_.TakeInOrder(piece, *data);
  // Start the disk write of each 8 MiB the run brings, without waiting for
  // it: the record's fdatasync (and the one before the rename) then wait
  // for little.
  const int64_t written = piece * s_.piece_bytes_ + s_.PieceSize(piece);
  if (written - written_back_ >= kWritebackBytes || piece == run_.back()) {
    ::sync_file_range(s_.part_.get(), written_back_, written - written_back_, SYNC_FILE_RANGE_WRITE);
    written_back_ = written;
  }
  return true;
}

bool PieceSink::Take(int64_t offset, std::string_view data) {
  const bool streamed = s_.piece_bytes_ > kBufferedPieceBytes;
  for (size_t used = 0; used < data.size();) {
    const int64_t at = offset + static_cast<int64_t>(used);
    const int64_t piece = at / s_.piece_bytes_;
    const int64_t piece_end = piece * s_.piece_bytes_ + s_.PieceSize(piece);
    const auto n = std::min(data.size() - used, static_cast<size_t>(piece_end - at));
    const std::string_view part = data.substr(used, n);
    used += n;
    if (streamed) {
      // To its place at once (this source alone writes this piece); counted
      // only once the whole piece matches.
      if (Status st = WriteAll(s_.part_.get(), part.data(), part.size(), at); !st.ok()) return LocalError(st);
      hasher_.Update(part.data(), part.size());
      if (hasher_.fed() == s_.PieceSize(piece) && !TakePiece(piece, hasher_.Finish(), nullptr)) return false;
    } else if (assembled_.empty() && static_cast<int64_t>(n) == s_.PieceSize(piece)) {
      if (!TakePiece(piece, PieceHash(part, s_.piece_bytes_), &part)) return false;  // whole in this chunk: no copy
    } else {
      assembled_.append(part);
      if (static_cast<int64_t>(assembled_.size()) < s_.PieceSize(piece)) continue;
      const std::string_view whole = assembled_;
      if (!TakePiece(piece, PieceHash(whole, s_.piece_bytes_), &whole)) return false;
      assembled_.clear();
    }
  }
  return true;
}

bool Swarm::FetchLayer(std::string* why) {
  // Asked of kMaxSources holders at once, in random order, each within
  // kLayerTimeout: the first layer that hashes up to the root wins, so
  // holders that never answer cost one timeout, not one each.
  std::vector<Holder> holders = group_.holders;
  {
    MutexLock lock(mu_);
    std::shuffle(holders.begin(), holders.end(), random_);
  }
  for (size_t wave = 0; wave < holders.size(); wave += kMaxSources) {
    Mutex found_mu;
    std::optional<std::vector<Digest>> found;  // guarded by found_mu (a local: no annotation)
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
        grpc::Status asked = PeerStub(h.host, h.port, h.username)->PieceHashes(&ctx, req, &reply);
        if (!asked.ok()) {  // another may answer
          MutexLock lock(found_mu);
          if (!found) *why += (why->empty() ? "" : "; ") + h.username + " " + PeerTrouble(h.username, asked);
          return;
        }
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
          Note("holder " + h.username + " sent piece hashes that do not match the root; skipping it");
          MutexLock lock(found_mu);
          *why += (why->empty() ? "" : "; ") + h.username + " sent piece hashes that do not match the file";
          return;
        }
        MutexLock lock(found_mu);
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

void Swarm::AdoptPrefix(int64_t part_size) {
  PieceHasher hasher(piece_bytes_);
  for (int64_t i = 0; i < pieces_count_ && i * piece_bytes_ + PieceSize(i) <= part_size; ++i) {
    const bool read = ReadRange(i * piece_bytes_, PieceSize(i), [&](const char* data, size_t n) {
      hasher.Update(data, n);
    });
    if (!read || hasher.Finish() != layer_[static_cast<size_t>(i)]) break;
    MutexLock lock(mu_);
    picker_.MarkVerified(i);
  }
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
  struct stat st;
  ::fstat(part_.get(), &st);
  const bool resumed = st.st_size == f_.size + 2 * static_cast<int64_t>(kPartSlotBytes) && LoadState();
  if (!resumed && st.st_size > 0 && st.st_size <= f_.size) {
    AdoptPrefix(st.st_size);  // a .part from the in-order strategy
  } else if (!resumed) {
    (void)!::ftruncate(part_.get(), 0);
  }
  if (::ftruncate(part_.get(), f_.size + 2 * static_cast<int64_t>(kPartSlotBytes)) != 0) {
    return Internal("cannot size " + part_path_ + ": " + std::strerror(errno));
  }
  int64_t verified = 0, verified_bytes = 0;
  {
    MutexLock lock(mu_);
    verified = picker_.verified();
    verified_bytes = picker_.verified_bytes();
  }
  out_.resumed_at = verified_bytes;
  if (verified > 0) {
    Note("resuming " + f_.name + ": " + HumanSize(verified_bytes) + " of " + HumanSize(f_.size) +
         " are here already (" + std::to_string(verified) + " of " + std::to_string(pieces_count_) +
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
    Status described = WritePartialFile(
        req_.partial_dir, FileEntry{f_.name, f_.size, f_.sha256, HexEncode(group_.root.data(), group_.root.size())},
        layer_);
    if (!described.ok()) Note("cannot offer the pieces to others meanwhile: " + described.message());
  }
  return Status::Ok();
}

bool Swarm::LoadState() {
  std::optional<PartRecord> record = ReadPartRecord(part_.get(), f_.size, group_.root, pieces_count_);
  if (!record) return false;
  {
    MutexLock save(save_mu_);
    save_seq_ = record->seq;
  }
  MutexLock lock(mu_);
  for (int64_t i = 0; i < pieces_count_; ++i) {
    if (record->Has(i)) picker_.MarkVerified(i);
  }
  return true;
}

Status Swarm::SaveState() {
  MutexLock save(save_mu_);
  PartRecord record;
  {
    MutexLock lock(mu_);
    for (int64_t i = 0; i < pieces_count_; ++i) {
      if (picker_.state(i) == PiecePicker::State::kVerified) record.Set(i);
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
  MutexLock frontier(frontier_mu_);
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
  MutexLock frontier(frontier_mu_);
  for (;;) {
    {
      MutexLock lock(mu_);
      if (frontier_ >= pieces_count_ || picker_.state(frontier_) != PiecePicker::State::kVerified) return;
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

void Swarm::Note(const std::string& line) {
  if (!note_) return;
  MutexLock lock(progress_mu_);
  note_(line);
}

void Swarm::Progress() {
  if (!progress_) return;
  TransferProgress p{0, f_.size, {}, ""};
  {
    MutexLock lock(mu_);
    p.done = picker_.verified_bytes();
    const auto now = Clock::now();
    for (const Source& s : sources_) {
      const double secs = s.since ? std::chrono::duration<double>(now - *s.since).count() : 0;
      p.sources.push_back(SourceStatus{s.holder.username, s.bytes, secs > 0 ? s.bytes / secs : 0,
                                       s.queue_place, s.dropped});
    }
  }
  MutexLock lock(progress_mu_);
  progress_(p);
}

void Swarm::Queued(size_t source, int64_t place) {
  std::string name;
  {
    MutexLock lock(mu_);
    Source& s = sources_[source];
    if (s.queue_place == place) return;
    s.queue_place = place;
    if (s.first_place == 0) s.first_place = place;
    name = s.holder.username;
  }
  if (place > 0) {
    Note("queued at " + name + ": number " + std::to_string(place) +
         " for an upload slot; taking pieces from the others meanwhile");
  }
  Progress();
}

std::vector<int64_t> Swarm::Pick(size_t source) {
  MutexLock lock(mu_);
  const Source& me = sources_[source];
  if (me.dropped || !local_error_.ok() || stop_) return {};
  // A run lasts about a second at the source's rate so far (aria2 and
  // AirDC++ size segments by speed): a slow source holds few pieces others
  // could fetch sooner. Until the source has a rate, each run is as large
  // as all it has sent so far (1 MiB first): a fast source reaches full
  // runs in a few calls.
  int64_t run_bytes = std::max(kFirstRunBytes, me.bytes);
  if (me.since) {
    const double secs = std::chrono::duration<double>(Clock::now() - *me.since).count();
    if (secs > 0.2) run_bytes = static_cast<int64_t>(static_cast<double>(me.bytes) / secs * kRunSeconds);
  }
  if (req_.reader_at) {
    const int64_t at = req_.reader_at();
    picker_.SetFocus(at >= 0 ? at / piece_bytes_ : -1, std::max<int64_t>(1, kStreamAheadBytes / piece_bytes_));
  }
  return picker_.Pick(source, std::clamp<int64_t>(run_bytes, piece_bytes_, kRunBytes));
}

void Swarm::Release(const std::vector<int64_t>& run, size_t from) {
  MutexLock lock(mu_);
  picker_.Release(run, from);
  changed_.notify_all();
}

void Swarm::Drop(size_t source, const std::string& why) {
  std::string name;
  {
    MutexLock lock(mu_);
    Source& s = sources_[source];
    if (s.dropped) return;
    s.dropped = true;
    s.why = why;
    picker_.Remove(source);  // what it has counts no more
    name = s.holder.username;
    refill_ = true;  // its place goes to a holder not tried yet
    changed_.notify_all();
  }
  Note("holder " + name + " dropped: " + why);
}

void Swarm::LocalError(const Status& error) {
  MutexLock lock(mu_);
  if (local_error_.ok()) local_error_ = error;
  changed_.notify_all();
}

Status Swarm::Accept(size_t source, int64_t piece, const std::string_view* data, bool* won) {
  {
    MutexLock lock(mu_);
    *won = picker_.state(piece) != PiecePicker::State::kVerified;
  }
  if (!*won) return Status::Ok();
  // Two verified copies of one piece are the same bytes: writing both is
  // harmless, so the write needs no lock.
  if (data != nullptr) RETURN_IF_ERROR(WriteAll(part_.get(), data->data(), data->size(), piece * piece_bytes_));
  {
    MutexLock lock(mu_);
    *won = picker_.MarkVerified(piece);
    if (!*won) return Status::Ok();
    unsaved_bytes_ += PieceSize(piece);
    sources_[source].bytes += PieceSize(piece);
    if (picker_.complete()) {  // the endgame's other copies are not needed
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
  // Others (the peer-server) or a reader (a stream) read the record: kept fresher.
  const Clock::duration every = req_.partial_dir.empty() && !req_.reader_at ? Clock::duration(kSaveEvery)
                                                                            : Clock::duration(kSaveEverySharing);
  for (;;) {
    bool stop, save;
    {
      MutexLock lock(mu_);
      changed_.wait_for(lock, std::chrono::milliseconds(50));
      stop = keeper_stop_;
      save = !stop && (unsaved_bytes_ >= kSaveEveryBytes || Clock::now() - last_save_ >= every);
      if (save) last_save_ = Clock::now();
    }
    AdvanceFrontier();
    if (stop) return;  // Run saves the last record itself
    if (!save) continue;
    if (Status saved = SaveState(); !saved.ok()) LocalError(saved);
  }
}

Fetched Swarm::Fetch(size_t source, const std::vector<int64_t>& run) {
  Holder holder;
  {
    MutexLock lock(mu_);
    holder = sources_[source].holder;
  }
  const int64_t begin = run.front() * piece_bytes_;
  const int64_t end = std::min(f_.size, (run.back() + 1) * piece_bytes_);
  PieceSink sink(*this, source, run);
  // One chunk may wait between the reader and the verifier. A source that
  // sends nothing (after it was asked, or in the middle of the run) is cut
  // off (CallWatch), and dropped below: its place goes to another.
  RangeRequest range{holder, f_.sha256, f_.size, begin, end, req_.limit_rate, &pacer_, 1, nullptr,
                     [&](grpc::ClientContext* call) {
                       MutexLock lock(mu_);
                       if (call != nullptr && picker_.complete()) return false;
                       calls_[source] = call;  // Run and Accept may cancel it
                       return true;
                     }};
  const RangeOutcome got = ReceiveRange(range, sink);
  Release(std::vector<int64_t>(run.begin() + (sink.unverified() - run.front()), run.end()), source);
  if (!got.called) return Fetched::kOk;
  if (got.queue_place > 0) {
    // All its upload slots are busy: wait our turn there, others serve meanwhile.
    Queued(source, got.queue_place);
    return Fetched::kQueued;
  }
  std::string failure = !sink.failure().empty() ? sink.failure() : got.failure;
  {
    MutexLock lock(mu_);
    if (stop_ && failure.empty()) return Fetched::kOk;  // cancelled by Run: the source did nothing wrong
  }
  if (failure.empty() && sink.unverified() <= run.back() && !AllVerified(sink.unverified(), run.back())) {
    failure = got.status.ok() ? "stopped sending early" : PeerTrouble(holder.username, got.status);
  }
  if (failure.empty()) return Fetched::kOk;
  if (failure != "local error") Drop(source, failure);
  return Fetched::kDropped;
}

bool Swarm::AllVerified(int64_t first, int64_t last) {
  MutexLock lock(mu_);
  return picker_.AllVerified(first, last);
}

bool Swarm::RefreshHave(size_t source) {
  Holder holder;
  {
    MutexLock lock(mu_);
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
    Drop(source, "cannot say which pieces it has: it " + PeerTrouble(holder.username, s));
    return false;
  }
  Digest root{};
  const bool same = reply.size() == f_.size && HexDecode(reply.root(), root) && root == group_.root;
  const std::string& have = reply.have();
  const auto bytes = static_cast<size_t>((pieces_count_ + 7) / 8);
  if (!same || (!have.empty() && have.size() != bytes)) {
    Drop(source, "sent a list of pieces that does not match the file");
    return false;
  }
  MutexLock lock(mu_);
  // An empty list: it has all of it by now.
  picker_.SetHave(source, have.empty() ? std::vector<uint8_t>(bytes, 0xff) : std::vector<uint8_t>(have.begin(), have.end()));
  sources_[source].have_at = Clock::now();
  return true;
}

void Swarm::Worker(size_t source) {
  for (;;) {
    bool partial;
    {
      MutexLock lock(mu_);
      partial = sources_[source].holder.partial && Clock::now() - sources_[source].have_at >= kHaveEvery;
    }
    if (partial && !RefreshHave(source)) break;
    std::vector<int64_t> run = Pick(source);
    if (run.empty()) {
      // Nothing to ask for: done, or wait while the last pieces may yet
      // come back (a source failing releases its pieces) or, from a
      // partial holder, until it has more.
      MutexLock lock(mu_);
      if (picker_.complete() || sources_[source].dropped || !local_error_.ok() || stop_) break;
      changed_.wait_for(lock, sources_[source].holder.partial ? kHaveEvery : std::chrono::milliseconds(200));
      continue;
    }
    const Fetched got = Fetch(source, run);
    if (got == Fetched::kDropped) break;
    if (got == Fetched::kQueued) {
      MutexLock lock(mu_);
      const auto over = [&] {
        mu_.AssertHeld();  // a wait's predicate: runs with the lock held
        return picker_.complete() || !local_error_.ok() || stop_;
      };
      changed_.wait_for(lock, kQueuePoll, over);
      if (over()) break;
    }
  }
  MutexLock lock(mu_);
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
  sources_.push_back(Source{h, 0, false, "", 0, 0, std::nullopt});
  calls_.push_back(nullptr);
  const size_t i = picker_.AddSource(h.partial);
  active_workers_++;
  workers->emplace_back([this, i] { Worker(i); });
  return true;
}

bool Swarm::Supervise(std::vector<std::thread>* workers, bool* stopped) {
  if (picker_.complete() || !local_error_.ok()) return true;
  // A source that failed gives its place to a holder not tried yet.
  refill_ = false;
  Fill(workers);
  if (req_.stop_requested && req_.stop_requested()) {
    *stopped = true;
    for (grpc::ClientContext* call : calls_) {
      if (call != nullptr) call->TryCancel();
    }
    return true;
  }
  const auto now = Clock::now();
  if (picker_.verified() != last_verified_) {
    last_verified_ = picker_.verified();
    last_progress_ = now;
  }
  // Only partial holders left, none of which has had anything new for a
  // minute: they will not finish it.
  const bool whole_alive = std::any_of(sources_.begin(), sources_.end(),
                                       [](const Source& s) { return !s.holder.partial && !s.dropped; });
  if (!whole_alive && now - last_progress_ > std::chrono::seconds(60)) return true;
  if (now < next_refresh_ && active_workers_ > 0) return false;
  // Every so often central is asked again: other downloaders of the file
  // join as partial holders once they have pieces.
  const size_t before = sources_.size();
  if (req_.refresh_holders) {
    mu_.unlock();  // central may take a while: the workers go on meanwhile
    auto fresh = req_.refresh_holders();
    mu_.lock();
    if (fresh.ok()) Offer(*fresh);
  }
  Fill(workers);
  next_refresh_ = Clock::now() + kRefreshEvery;
  return active_workers_ == 0 && sources_.size() == before && waiting_.empty();
}

Status Swarm::Conclude(bool stopped) {
  for (const Source& s : sources_) {
    if (s.bytes > 0) {
      out_.from.push_back(s.holder.username);
      out_.bytes_from[s.holder.username] = s.bytes;
      out_.fetched += s.bytes;
    }
    if (s.dropped) out_.dropped.emplace_back(s.holder.username, s.why);
    if (s.first_place > 0) out_.queued_at[s.holder.username] = s.first_place;
  }
  if (picker_.verified() == 0) {  // nothing worth keeping for a resume
    ::unlink(part_path_.c_str());
    if (!req_.partial_dir.empty()) RemovePartialFile(req_.partial_dir, f_.sha256);
  }
  RETURN_IF_ERROR(local_error_);
  if (picker_.complete()) return Status::Ok();
  if (stopped) return StoppedStatus(picker_.verified_bytes(), f_.size);
  std::string why;
  for (const Source& s : sources_) why += (why.empty() ? "" : "; ") + s.holder.username + " " + s.why;
  return IncompleteStatus(f_.name, picker_.verified_bytes(), f_.size, why);
}

Status Swarm::Run() {
  std::thread keeper([this] { Keeper(); });
  std::vector<std::thread> workers;
  MutexLock lock(mu_);
  Offer(group_.holders);
  Fill(&workers);
  lock.Unlock();
  Progress();
  lock.Lock();
  next_refresh_ = Clock::now() + kRefreshEvery;
  last_progress_ = Clock::now();
  last_verified_ = picker_.verified();
  bool stopped = false;  // by stop_requested
  for (;;) {
    // A stop request cannot wake this wait: it is asked a few times a second.
    const auto wake = req_.stop_requested ? std::min(next_refresh_, Clock::now() + kStopPoll) : next_refresh_;
    changed_.wait_until(lock, wake, [&] {
      mu_.AssertHeld();  // a wait's predicate: runs with the lock held
      return picker_.complete() || !local_error_.ok() || active_workers_ == 0 || refill_;
    });
    if (Supervise(&workers, &stopped)) break;
  }
  stop_ = true;
  changed_.notify_all();
  out_.sources = static_cast<int>(sources_.size());
  lock.Unlock();
  // Every worker returns once no piece is left for it (a waiting one wakes
  // at each change and at least every 500 ms).
  for (auto& t : workers) t.join();
  {
    MutexLock stop(mu_);
    keeper_stop_ = true;
    changed_.notify_all();
  }
  keeper.join();
  Status saved = SaveState();
  lock.Lock();
  Status ended = Conclude(stopped);
  if (!local_error_.ok() || saved.ok()) return ended;
  return saved;
}

Result<DownloadResult> Swarm::Finish() {
  AdvanceFrontier();  // whatever the keeper left
  std::string got;
  {
    MutexLock frontier(frontier_mu_);
    if (frontier_ != pieces_count_) return Internal("cannot read back " + part_path_);
    got = whole_.FinishHex();
  }
  if (got != f_.sha256) {
    ::unlink(part_path_.c_str());
    if (!req_.partial_dir.empty()) RemovePartialFile(req_.partial_dir, f_.sha256);
    std::string names;
    for (const Holder& h : group_.holders) names += (names.empty() ? "" : ", ") + h.username;
    return Status(Code::kDataLoss, "every piece matched the tree root the holders " + names +
                                       " reported, but the file hashes to " + got.substr(0, 12) + ", not " +
                                       f_.sha256.substr(0, 12) + ": that root is a lie; nothing was saved");
  }
  if (::ftruncate(part_.get(), f_.size) != 0) return Internal("cannot cut " + part_path_ + ": " + std::strerror(errno));
  // Whole now: served as a file of the shared folder (if it is in it), not in part.
  if (!req_.partial_dir.empty()) RemovePartialFile(req_.partial_dir, f_.sha256);
  RETURN_IF_ERROR(PlaceDownload(part_.get(), part_path_, final_path_));
  out_.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  return out_;
}

// The version a .part at `part_path` was verified against, moved first in
// `groups`, whatever the vote: its verified pieces are kept, never cut away
// by another claim.
void PartsVersionFirst(const std::string& part_path, std::vector<RootGroup>& groups) {
  UniqueFd part(::open(part_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st {};
  if (!part.valid() || ::fstat(part.get(), &st) != 0) return;
  auto mine = std::find_if(groups.begin(), groups.end(), [&](const RootGroup& g) {
    return st.st_size == g.size + 2 * static_cast<int64_t>(kPartSlotBytes) &&
           ReadPartRecord(part.get(), g.size, g.root, PieceCount(g.size)).has_value();
  });
  if (mine != groups.end()) std::rotate(groups.begin(), mine, mine + 1);
}

}  // namespace

std::optional<Result<DownloadResult>> SwarmDownload(const DownloadRequest& req, const ProgressFn& progress,
                                                    const NoteFn& note, std::string* why_not) {
  const FileResult& f = req.file;
  std::vector<RootGroup> groups = GroupByRoot(f, req.own_username);
  PartsVersionFirst((fs::path(req.dest_dir) / f.name).string() + kPartSuffix, groups);
  bool started = false;
  Status last;
  for (size_t g = 0; g < groups.size(); ++g) {
    const RootGroup& group = groups[g];
    if (group.reporting == 0) continue;
    DownloadRequest version = req;  // this claim's size
    version.file.size = group.size;
    Swarm swarm(version, group, progress, note);
    std::string why;
    if (!swarm.FetchLayer(&why)) {
      if (why_not != nullptr && !why.empty()) *why_not += (why_not->empty() ? "" : "; ") + why;
      continue;
    }
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
  if (!started) return std::nullopt;
  return last;
}

}  // namespace p2pshare::pclient
