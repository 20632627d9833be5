#include "pclient/piece_picker.h"

#include <algorithm>

namespace p2pshare::pclient {

PiecePicker::PiecePicker(int64_t file_size, int64_t piece_bytes, int64_t start_window, int64_t race_limit,
                         uint64_t seed)
    : file_size_(file_size),
      piece_bytes_(piece_bytes),
      start_window_(std::clamp<int64_t>(start_window, 1,
                                        std::max<int64_t>(1, (file_size + piece_bytes - 1) / piece_bytes))),
      race_limit_(race_limit),
      random_(static_cast<std::minstd_rand::result_type>(seed % 2147483646u + 1)),
      first_pick_(static_cast<int64_t>(random_() % static_cast<uint64_t>(start_window_))) {
  const auto n = static_cast<size_t>(file_size > 0 ? (file_size + piece_bytes - 1) / piece_bytes : 0);
  state_.assign(n, State::kMissing);
  fetching_.assign(n, {});
  partial_have_.assign(n, 0);
  missing_ = static_cast<int64_t>(n);
}

int64_t PiecePicker::piece_size(int64_t i) const { return std::min(piece_bytes_, file_size_ - i * piece_bytes_); }

bool PiecePicker::AllVerified(int64_t first, int64_t last) const {
  for (int64_t i = first; i <= last; ++i) {
    if (state(i) != State::kVerified) return false;
  }
  return true;
}

size_t PiecePicker::AddSource(bool partial) {
  sources_.push_back(Source{partial, false, {}});
  return sources_.size() - 1;
}

void PiecePicker::SetHave(size_t s, const std::vector<uint8_t>& bits) {
  Source& src = sources_[s];
  if (!src.partial || src.removed) return;
  const auto bit = [](const std::vector<uint8_t>& b, int64_t i) {
    const auto byte = static_cast<size_t>(i / 8);
    return byte < b.size() && ((b[byte] >> (i % 8)) & 1u);
  };
  // Only the pieces whose bit changed move the counts.
  for (int64_t i = 0; i < pieces(); ++i) {
    const bool had = bit(src.have, i), has = bit(bits, i);
    if (had == has) continue;
    int& count = partial_have_[static_cast<size_t>(i)];
    if (has && count++ == 0) partial_pieces_++;
    if (!has && --count == 0) partial_pieces_--;
  }
  src.have = bits;
}

void PiecePicker::Remove(size_t s) {
  if (sources_[s].removed) return;
  SetHave(s, {});
  sources_[s].removed = true;
}

bool PiecePicker::Has(size_t s, int64_t i) const {
  const Source& src = sources_[s];
  if (!src.partial) return true;
  const auto byte = static_cast<size_t>(i / 8);
  return byte < src.have.size() && ((src.have[byte] >> (i % 8)) & 1u);
}

int64_t PiecePicker::OrderOf(int64_t i) const {
  return i < start_window_ ? (i - first_pick_ + start_window_) % start_window_ : i;
}

int64_t PiecePicker::AtOrder(int64_t k) const {
  return k < start_window_ ? (first_pick_ + k) % start_window_ : k;
}

int64_t PiecePicker::PickRare(size_t s) {
  // Of the pieces only whole holders have, a random one: downloaders that
  // learn of each other late still ask the seed for different ones.
  std::vector<int64_t> rare;
  for (int64_t i = 0; i < pieces(); ++i) {
    if (state(i) == State::kMissing && partial_have_[static_cast<size_t>(i)] == 0 && Has(s, i)) rare.push_back(i);
  }
  if (rare.empty()) return -1;
  return rare[std::uniform_int_distribution<size_t>(0, rare.size() - 1)(random_)];
}

int64_t PiecePicker::PickInOrder(size_t s) const {
  for (int64_t k = order_hint_; k < pieces(); ++k) {
    const int64_t i = AtOrder(k);
    if (state(i) == State::kMissing && Has(s, i)) return i;
  }
  return -1;
}

int64_t PiecePicker::PickEndgame(size_t s) const {
  // Race the piece fewest sources are fetching (a stalled holder's piece
  // gets a second copy). Pieces over race_limit are written to their place
  // as they come: one writer at a time, never raced.
  int64_t best = -1;
  for (int64_t i = 0; i < pieces(); ++i) {
    const auto& at = fetching_[static_cast<size_t>(i)];
    if (state(i) != State::kInFlight || !Has(s, i) || piece_size(i) > race_limit_) continue;
    if (std::find(at.begin(), at.end(), s) != at.end()) continue;
    if (best < 0 || at.size() < fetching_[static_cast<size_t>(best)].size()) best = i;
  }
  return best;
}

std::vector<int64_t> PiecePicker::Pick(size_t s, int64_t run_bytes) {
  const int64_t max_run = std::clamp<int64_t>(missing_ / (2 * static_cast<int64_t>(sources_.size())), 1,
                                              std::max<int64_t>(1, run_bytes / piece_bytes_));
  // Advance the hint past pieces no longer missing.
  while (order_hint_ < pieces() && state(AtOrder(order_hint_)) != State::kMissing) order_hint_++;
  int64_t first = -1;
  for (int64_t i = std::max<int64_t>(0, focus_); focus_ >= 0 && i < std::min(pieces(), focus_ + focus_window_); ++i) {
    if (state(i) == State::kMissing && Has(s, i)) {
      first = i;
      break;
    }
  }
  const bool rare_only = first < 0 && !sources_[s].partial && partial_pieces_ > 0;
  if (rare_only) first = PickRare(s);
  const bool rare = rare_only && first >= 0;
  if (first < 0) first = PickInOrder(s);
  std::vector<int64_t> run;
  for (int64_t i = first; first >= 0 && i < pieces() && static_cast<int64_t>(run.size()) < max_run; ++i) {
    // A run is consecutive; a rare run stays rare.
    if (state(i) != State::kMissing || !Has(s, i) || (rare && partial_have_[static_cast<size_t>(i)] > 0)) break;
    run.push_back(i);
  }
  if (run.empty() && missing_ == 0) {
    if (int64_t raced = PickEndgame(s); raced >= 0) run.push_back(raced);
  }
  for (int64_t i : run) {
    if (state(i) == State::kMissing) missing_--;
    state_[static_cast<size_t>(i)] = State::kInFlight;
    fetching_[static_cast<size_t>(i)].push_back(s);
  }
  return run;
}

void PiecePicker::Release(const std::vector<int64_t>& run, size_t s) {
  for (int64_t i : run) {
    auto& at = fetching_[static_cast<size_t>(i)];
    at.erase(std::remove(at.begin(), at.end(), s), at.end());
    if (state(i) == State::kInFlight && at.empty()) {
      state_[static_cast<size_t>(i)] = State::kMissing;
      missing_++;
      order_hint_ = std::min(order_hint_, OrderOf(i));
    }
  }
}

bool PiecePicker::MarkVerified(int64_t i) {
  State& st = state_[static_cast<size_t>(i)];
  if (st == State::kVerified) return false;
  if (st == State::kMissing) missing_--;
  st = State::kVerified;
  verified_++;
  verified_bytes_ += piece_size(i);
  return true;
}

}  // namespace p2pshare::pclient
