// PiecePicker alone: which pieces each source is asked for, with scripted
// sources (fast, slow, lying, vanishing, partial) and no network or disk.
#include "pclient/piece_picker.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include <gtest/gtest.h>

namespace p2pshare::pclient {
namespace {

constexpr int64_t kPiece = 1 << 20;
using State = PiecePicker::State;

std::vector<uint8_t> Bits(int64_t pieces, const std::set<int64_t>& have) {
  std::vector<uint8_t> bits(static_cast<size_t>((pieces + 7) / 8), 0);
  for (int64_t i : have) bits[static_cast<size_t>(i / 8)] |= static_cast<uint8_t>(1u << (i % 8));
  return bits;
}

// A source that sends `rate` pieces a tick, sends bad data from its
// `lies_at`-th piece on (then is dropped), or vanishes at tick `gone_at`.
struct Scripted {
  int rate = 1;
  int lies_at = -1;
  int gone_at = -1;
  bool partial = false;
  std::set<int64_t> has = {};
  // Filled in by the run.
  std::vector<int64_t> run = {};
  size_t next = 0;
  int sent = 0;
  bool dropped = false;
  int64_t verified = 0;
};

// Plays the sources against `picker` the way the download does (Pick,
// MarkVerified and Release as each piece passes, Release of the rest and
// Remove when a source fails) until the file is complete or nobody can
// send more. Returns how many times each piece was won (must be once).
std::map<int64_t, int> Play(PiecePicker& picker, std::vector<Scripted>& sources, int max_ticks = 10000) {
  std::map<int64_t, int> won;
  for (Scripted& s : sources) {
    const size_t id = picker.AddSource(s.partial);
    if (s.partial) picker.SetHave(id, Bits(picker.pieces(), s.has));
  }
  for (int tick = 0; tick < max_ticks && !picker.complete(); ++tick) {
    bool anyone = false;
    for (size_t id = 0; id < sources.size(); ++id) {
      Scripted& s = sources[id];
      if (s.dropped) continue;
      auto drop = [&] {
        picker.Release(std::vector<int64_t>(s.run.begin() + static_cast<long>(s.next), s.run.end()), id);
        picker.Remove(id);
        s.dropped = true;
      };
      if (tick == s.gone_at) {
        drop();
        continue;
      }
      anyone = true;
      for (int k = 0; k < s.rate && !s.dropped; ++k) {
        if (s.next == s.run.size()) {
          s.run = picker.Pick(id, 4 * kPiece);
          s.next = 0;
          if (s.run.empty()) break;
        }
        const int64_t piece = s.run[s.next];
        if (s.lies_at >= 0 && s.sent >= s.lies_at) {
          drop();
          break;
        }
        s.sent++;
        if (picker.MarkVerified(piece)) {
          won[piece]++;
          s.verified++;
        }
        picker.Release({piece}, id);
        s.next++;
      }
    }
    if (!anyone) break;
  }
  return won;
}

TEST(PiecePickerTest, OneSourceTakesEveryPieceOnceFromARandomStartWithinTheWindowThenInOrder) {
  // 40 pieces, a window of 8: picking starts at first_pick, wraps within
  // the window, then goes on in order.
  PiecePicker picker(40 * kPiece, kPiece, 8, 4 * kPiece, 7);
  const size_t s = picker.AddSource(false);
  std::vector<int64_t> order;
  while (!picker.complete()) {
    std::vector<int64_t> run = picker.Pick(s, kPiece);
    ASSERT_EQ(run.size(), 1u);
    for (int64_t i : run) {
      EXPECT_TRUE(picker.MarkVerified(i));
      order.push_back(i);
    }
    picker.Release(run, s);
  }
  ASSERT_EQ(order.size(), 40u);
  const int64_t start = picker.first_pick();
  ASSERT_GE(start, 0);
  ASSERT_LT(start, 8);
  EXPECT_EQ(order.front(), start);
  std::vector<int64_t> window(order.begin(), order.begin() + 8);
  std::vector<int64_t> sorted = window;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7})) << "the window comes first, whole";
  for (int64_t k = 8; k < 40; ++k) EXPECT_EQ(order[static_cast<size_t>(k)], k) << "then in order";
  EXPECT_EQ(picker.verified_bytes(), 40 * kPiece);
  EXPECT_TRUE(picker.Pick(s, kPiece).empty()) << "nothing left";
}

TEST(PiecePickerTest, AReaderSeekingAheadGetsThePiecesJustAheadOfItFirst) {
  PiecePicker picker(40 * kPiece, kPiece, 8, 4 * kPiece, 7);
  const size_t a = picker.AddSource(false), b = picker.AddSource(false);
  picker.SetFocus(30, 4);  // a player seeks to piece 30
  EXPECT_EQ(picker.Pick(a, kPiece), std::vector<int64_t>{30});
  EXPECT_EQ(picker.Pick(b, kPiece), std::vector<int64_t>{31});
  EXPECT_TRUE(picker.MarkVerified(30));
  EXPECT_TRUE(picker.MarkVerified(31));
  picker.SetFocus(-1, 0);  // no reader: as before, from the start window
  const std::vector<int64_t> next = picker.Pick(a, kPiece);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_LT(next[0], 8);
}

TEST(PiecePickerTest, ARunIsWhatTheSourceSendsInASecondAndAtMostHalfItsShareOfWhatIsLeft) {
  PiecePicker picker(100 * kPiece, kPiece, 1, 4 * kPiece, 1);
  const size_t a = picker.AddSource(false);
  picker.AddSource(false);
  EXPECT_EQ(picker.Pick(a, 10 * kPiece).size(), 10u);  // 100 left, 2 sources: up to 25
  EXPECT_EQ(picker.Pick(a, 64 * kPiece).size(), 22u);  // 90 left: 90 / 4
  EXPECT_EQ(picker.Pick(a, kPiece / 2).size(), 1u) << "at least one piece";
}

TEST(PiecePickerTest, AvailabilityFollowsEachBitfieldAndLeavesWithTheSource) {
  PiecePicker picker(20 * kPiece, kPiece, 1, 4 * kPiece, 1);
  const size_t p = picker.AddSource(true);
  const size_t q = picker.AddSource(true);
  picker.SetHave(p, Bits(20, {0, 1, 2}));
  picker.SetHave(q, Bits(20, {2, 3}));
  EXPECT_EQ(picker.availability(0), 1);
  EXPECT_EQ(picker.availability(2), 2);
  EXPECT_EQ(picker.availability(4), 0);
  picker.SetHave(p, Bits(20, {1, 2, 4}));  // lost 0, gained 4
  EXPECT_EQ(picker.availability(0), 0);
  EXPECT_EQ(picker.availability(4), 1);
  picker.Remove(q);
  EXPECT_EQ(picker.availability(2), 1);
  EXPECT_EQ(picker.availability(3), 0);
  picker.Remove(q);  // twice: no change
  EXPECT_EQ(picker.availability(2), 1);
}

TEST(PiecePickerTest, AWholeSourceIsAskedForThePiecesNoPartialSourceHasAndAPartialOnlyForItsOwn) {
  PiecePicker picker(16 * kPiece, kPiece, 1, 4 * kPiece, 3);
  const size_t seed = picker.AddSource(false);
  const size_t peer = picker.AddSource(true);
  const std::set<int64_t> at_peer = {0, 1, 2, 3, 4, 5, 6, 7};
  picker.SetHave(peer, Bits(16, at_peer));
  std::set<int64_t> from_seed;
  for (int k = 0; k < 8; ++k) {
    for (int64_t i : picker.Pick(seed, kPiece)) from_seed.insert(i);
  }
  EXPECT_EQ(from_seed, (std::set<int64_t>{8, 9, 10, 11, 12, 13, 14, 15})) << "rarest first";
  const std::vector<int64_t> run = picker.Pick(peer, 16 * kPiece);
  ASSERT_FALSE(run.empty());
  for (int64_t i : run) EXPECT_TRUE(at_peer.count(i)) << "a partial source has " << i << "?";
  // The rare pieces all in flight: the seed takes the others in order.
  EXPECT_FALSE(picker.Pick(seed, kPiece).empty());
}

TEST(PiecePickerTest, APieceThatFailedItsHashIsAskedOfAnotherSourceFirst) {
  PiecePicker picker(10 * kPiece, kPiece, 1, 4 * kPiece, 1);
  const size_t liar = picker.AddSource(false);
  const size_t honest = picker.AddSource(false);
  std::vector<int64_t> run = picker.Pick(liar, 2 * kPiece);
  ASSERT_EQ(run, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(picker.Pick(honest, 2 * kPiece), (std::vector<int64_t>{2, 3}));
  picker.Release(run, liar);  // piece 0 failed its hash: the liar is dropped
  picker.Remove(liar);
  EXPECT_EQ(picker.state(0), State::kMissing);
  const std::vector<int64_t> next = picker.Pick(honest, 2 * kPiece);
  ASSERT_FALSE(next.empty());
  EXPECT_EQ(next.front(), 0) << "back first, in order";
}

TEST(PiecePickerTest, TheEndgameRacesThePieceFewestSourcesFetchAndTheFirstCopyWins) {
  PiecePicker picker(4 * kPiece, kPiece, 1, 4 * kPiece, 1);
  const size_t a = picker.AddSource(false);
  const size_t b = picker.AddSource(false);
  const size_t c = picker.AddSource(false);
  ASSERT_EQ(picker.Pick(a, 2 * kPiece).size(), 1u);  // 4 left, 3 sources: a run of 1
  ASSERT_EQ(picker.Pick(b, 2 * kPiece).size(), 1u);
  ASSERT_EQ(picker.Pick(c, 4 * kPiece).size(), 1u);
  const std::vector<int64_t> last = picker.Pick(a, 4 * kPiece);
  ASSERT_EQ(last, (std::vector<int64_t>{3}));
  EXPECT_EQ(picker.missing(), 0);
  // c is idle in the endgame: it races a piece a or b fetches, never its own.
  const std::vector<int64_t> raced = picker.Pick(c, kPiece);
  ASSERT_EQ(raced.size(), 1u);
  EXPECT_NE(raced[0], 2);
  EXPECT_TRUE(picker.MarkVerified(raced[0]));
  EXPECT_FALSE(picker.MarkVerified(raced[0])) << "the second copy loses";
  picker.Release(raced, c);
  EXPECT_EQ(picker.state(raced[0]), State::kVerified) << "a verified piece stays verified";
}

TEST(PiecePickerTest, PiecesWrittenAsTheyComeAreNeverRaced) {
  PiecePicker picker(2 * 8 * kPiece, 8 * kPiece, 1, 4 * kPiece, 1);
  const size_t a = picker.AddSource(false);
  const size_t b = picker.AddSource(false);
  ASSERT_EQ(picker.Pick(a, 8 * kPiece).size(), 1u);
  ASSERT_EQ(picker.Pick(b, 8 * kPiece).size(), 1u);
  EXPECT_TRUE(picker.Pick(a, 8 * kPiece).empty()) << "8 MiB pieces have one writer at a time";
}

TEST(PiecePickerTest, ScriptedFastSlowLyingAndVanishingSourcesCompleteTheFileEachPieceWonOnce) {
  PiecePicker picker(300 * kPiece, kPiece, 64, 4 * kPiece, 11);
  std::vector<Scripted> sources(4);
  sources[0].rate = 8;        // fast
  sources[1].rate = 1;        // slow
  sources[2].rate = 4;        // lies from its 5th piece on
  sources[2].lies_at = 5;
  sources[3].rate = 4;        // vanishes at tick 3 with its run in flight
  sources[3].gone_at = 3;
  const std::map<int64_t, int> won = Play(picker, sources);
  ASSERT_TRUE(picker.complete());
  ASSERT_EQ(won.size(), 300u);
  for (const auto& [piece, times] : won) EXPECT_EQ(times, 1) << "piece " << piece;
  EXPECT_TRUE(sources[2].dropped);
  EXPECT_TRUE(sources[3].dropped);
  EXPECT_GT(sources[0].verified, 3 * sources[1].verified) << "the fast source serves most";
  EXPECT_EQ(picker.missing(), 0);
}

TEST(PiecePickerTest, PartialSourcesAloneFinishWhatTheyHaveAndLeaveTheRestMissing) {
  PiecePicker picker(32 * kPiece, kPiece, 8, 4 * kPiece, 5);
  std::vector<Scripted> sources(2);
  sources[0].partial = true;
  sources[0].has = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  sources[1].partial = true;
  sources[1].has = {8, 9, 10, 11, 12, 20};
  const std::map<int64_t, int> won = Play(picker, sources, 200);
  EXPECT_FALSE(picker.complete());
  std::set<int64_t> got;
  for (const auto& [piece, times] : won) got.insert(piece);
  EXPECT_EQ(got, (std::set<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 20}));
  EXPECT_EQ(picker.missing(), 32 - 14);
}

}  // namespace
}  // namespace p2pshare::pclient
