// Which piece of a swarm download to ask which source for next: the
// bookkeeping of a download's pieces, with no I/O (no gRPC, no disk, no
// hashing), so it can be tested alone with scripted sources.
//
// Each piece is missing, in flight (asked of one source or more) or
// verified. Sources are numbered as they are added; a partial source (a
// peer still downloading the file) has only the pieces of its last
// bitfield. How many partial sources have each piece is kept as the
// bitfields change (SetHave, Remove), never recounted for a pick.
//
// Pick, for one source:
//  - streaming (SetFocus): the first missing piece it has among the window
//    ahead of the reader, then on in order from there;
//  - a whole source, while partial sources have pieces, takes a random piece
//    that no partial source has (rarest first: what only whole holders can
//    give is asked of them);
//  - otherwise the first missing piece in pick order: from a random piece
//    within the first `start_window` pieces, wrapping around within the
//    window, then on in order (downloaders that start together begin at
//    different places, and the whole file's SHA-256, which takes pieces in
//    order, waits for at most the window);
//  - then as many consecutive missing pieces the source has as `run_bytes`
//    allows, and at most half its share of what is left (few pieces are in
//    flight when the endgame starts);
//  - endgame: nothing missing, a piece still in flight elsewhere, the one
//    fewest sources fetch, of at most `race_limit` bytes, is raced.
//
// Thread-compatible: the download calls it under its own lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace p2pshare::pclient {

class PiecePicker {
 public:
  enum class State : uint8_t { kMissing, kInFlight, kVerified };

  // A file of `file_size` bytes in pieces of `piece_bytes`. Pieces of more
  // than `race_limit` bytes are never raced in the endgame. `seed` drives
  // the random choices (the start and the rare pieces).
  PiecePicker(int64_t file_size, int64_t piece_bytes, int64_t start_window, int64_t race_limit,
              uint64_t seed);

  int64_t pieces() const { return static_cast<int64_t>(state_.size()); }
  int64_t piece_size(int64_t i) const;
  State state(int64_t i) const { return state_[static_cast<size_t>(i)]; }
  int64_t verified() const { return verified_; }
  int64_t verified_bytes() const { return verified_bytes_; }
  int64_t missing() const { return missing_; }
  bool complete() const { return verified_ == pieces(); }
  // Whether pieces first..last are all verified.
  bool AllVerified(int64_t first, int64_t last) const;
  // Where picking starts (0 <= first_pick < start window).
  int64_t first_pick() const { return first_pick_; }

  // Adds a source; its number is returned. A partial source has nothing
  // until SetHave.
  size_t AddSource(bool partial);
  size_t sources() const { return sources_.size(); }
  // The pieces partial source `s` has now (bit i of byte i/8, low bit
  // first); bits past the last piece are ignored.
  void SetHave(size_t s, const std::vector<uint8_t>& bits);
  // Source `s` is gone: its pieces no longer count as available. Its
  // pieces in flight go back with Release.
  void Remove(size_t s);
  // Partial sources (not removed) that have piece i.
  int availability(int64_t i) const { return partial_have_[static_cast<size_t>(i)]; }

  // The pieces source `s` should ask for next (consecutive, at least one
  // unless nothing is left for it), marked in flight for `s`. `run_bytes`
  // is what the source should be asked for at once (its rate for about a
  // second).
  std::vector<int64_t> Pick(size_t s, int64_t run_bytes);
  // A reader (stream) needs the bytes from piece `piece` on next: the
  // missing pieces among the `window` from it are picked first. -1: no
  // reader.
  void SetFocus(int64_t piece, int64_t window) {
    focus_ = piece < pieces() ? piece : -1;
    focus_window_ = window;
  }
  // `s` stopped fetching these pieces: those nobody else fetches are
  // missing again (a verified one stays verified).
  void Release(const std::vector<int64_t>& run, size_t s);
  // Piece i passed its hash. False when it was verified already (another
  // copy won the race).
  bool MarkVerified(int64_t i);

 private:
  bool Has(size_t s, int64_t i) const;
  // Position of piece i in pick order, and the piece at position k.
  int64_t OrderOf(int64_t i) const;
  int64_t AtOrder(int64_t k) const;
  int64_t PickRare(size_t s);
  int64_t PickInOrder(size_t s) const;
  int64_t PickEndgame(size_t s) const;

  struct Source {
    bool partial = false;
    bool removed = false;
    std::vector<uint8_t> have;  // partial sources: the last bitfield
  };

  const int64_t file_size_;
  const int64_t piece_bytes_;
  const int64_t start_window_;
  const int64_t race_limit_;
  std::minstd_rand random_;
  const int64_t first_pick_;
  std::vector<State> state_;
  std::vector<std::vector<size_t>> fetching_;  // the sources fetching each piece
  std::vector<int> partial_have_;              // partial sources with each piece
  int64_t partial_pieces_ = 0;                 // pieces some partial source has
  std::vector<Source> sources_;
  int64_t verified_ = 0;
  int64_t verified_bytes_ = 0;
  int64_t missing_ = 0;
  // No missing piece sits before this position in pick order (a hint that
  // only moves back when a piece goes missing again).
  int64_t order_hint_ = 0;
  int64_t focus_ = -1;
  int64_t focus_window_ = 0;
};

}  // namespace p2pshare::pclient
