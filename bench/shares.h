// Realistic shares and searches, for benchmarks: file names built the way
// people's shared folders look, and queries drawn the way people search.
//
// Words come from a vocabulary of kVocabulary words (a few dozen real
// common ones first, then made-up ones of 2-4 syllables, some non-ASCII)
// drawn by a Zipf law (exponent 1): the word of rank r is drawn in
// proportion to 1/r. A peer's share is music (half of it: tracks of a
// common catalogue whose popularity is Zipf too, so popular tracks are held
// by many peers under one name and hash, and its own rips), documents,
// photos, videos and downloads, in mixed case with spaces and punctuation.
// Queries: mostly one or two popular words, some prefixes, globs, titles,
// misses, one- and two-letter queries, words typed without their accents,
// two words out of order, words with filters, and typos.
//
// Everything is a function of the seed: runs compare.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/directory_types.h"

namespace p2pshare::bench {

inline constexpr size_t kVocabulary = 40000;
inline constexpr int kCatalogueTracks = 300000;

struct Query {
  // word, two-words, prefix, glob, title, miss, one-letter, two-letters,
  // folded (accents left out), any-order (title word, then artist word),
  // filtered (a word and size/type/holders filters), typo (two letters swapped)
  std::string kind;
  std::string text;
};

class Shares {
 public:
  explicit Shares(uint64_t seed);

  // Peer `peer`'s share of `count` files (names unique), the same for the
  // same seed, peer and count.
  std::vector<FileEntry> PeerFiles(int peer, int count) const;
  // `count` queries of the realistic mix, in order of arrival.
  std::vector<Query> Queries(int count) const;
  // `count` queries of one kind only.
  std::vector<Query> Queries(const std::string& kind, int count) const;
  // Every kind, in the mix's order.
  static const std::vector<std::pair<std::string, double>>& Mix();

 private:
  const std::string& Word(std::mt19937_64& rng) const;  // Zipf-drawn
  std::string Words(std::mt19937_64& rng, int n, bool title_case) const;
  struct Track {
    std::string name;
    int64_t size;
    std::string sha256;
    std::string artist, title;
  };
  Track CatalogueTrack(int t) const;
  int PopularTrack(std::mt19937_64& rng) const;  // Zipf over the catalogue
  std::string OwnFile(std::mt19937_64& rng, int n, int64_t* size) const;
  Query MakeQuery(std::mt19937_64& rng, const std::string& kind) const;

  uint64_t seed_;
  std::vector<std::string> words_;
  std::vector<double> word_cdf_;
  std::vector<double> track_cdf_;
};

}  // namespace p2pshare::bench
