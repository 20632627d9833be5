// load-peers: many simulated peers in one process against one central.
//
// Each peer registers, logs in (from a host of its own, as peers on many
// machines would) and indexes --files files; every peer heartbeats each
// heartbeat_interval_s from its login on; once all are set up, --seconds
// of heartbeats follow while --searchers threads search at --search-rate
// per second in all. At the end every peer must still be
// online. Prints the latencies (p50/p99/max) of each phase; exits 1 on any
// error or eviction, 2 on bad flags.
//
//   load-peers --central https://127.0.0.1:8080 --ca data/ca/ca.pem --peers 500 --files 100 --seconds 60
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/shares.h"
#include "common/directory_client.h"
#include "common/small_files.h"
#include "common/x509.h"
#include "common/json_fields.h"
#include "common/sha256.h"

namespace {

using namespace p2pshare;
using Clock = std::chrono::steady_clock;

struct Flags {
  std::string central = "https://127.0.0.1:8080";
  std::string ca_file;  // central's CA, for https
  int peers = 500;
  int files = 100;
  int seconds = 60;
  int searchers = 2;
  double search_rate = 50;  // searches per second, all searchers together
  int threads = 32;         // heartbeat senders
  int setup_threads = 8;    // register/login/index
  std::string prefix = "load";
  bool json = false;
  bool keep_online = false;  // no logout at the end (benchmarks go on)
  std::string token_out;     // write peer 0's token here
  std::string mark;          // created when the measured phase starts, MARK.end when it ends
  uint64_t realistic_shares = 0;  // a seed: files from bench/shares.h
  bool shared_connections = false;  // one connection per sending thread, not per peer
};

// Trusts the CA of --ca when central serves https.
DirectoryClientOptions ClientOptions(const Flags& f) {
  DirectoryClientOptions o;
  if (!f.ca_file.empty()) {
    auto ca = ReadSmallFile(f.ca_file);
    if (ca.ok()) o.ca_pem = *ca;
    o.ca_source = f.ca_file;
  }
  return o;
}

// Latencies in ms and error counts by reason, merged from many threads.
class Recorder {
 public:
  void Ok(double ms) {
    std::lock_guard<std::mutex> lock(mu_);
    ms_.push_back(ms);
  }
  void Error(const Status& s) {
    std::lock_guard<std::mutex> lock(mu_);
    errors_[s.reason().empty() ? s.message() : s.reason()]++;
  }
  int64_t errors() const {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t n = 0;
    for (const auto& [k, v] : errors_) n += v;
    return n;
  }
  Json Summary() {
    std::lock_guard<std::mutex> lock(mu_);
    std::sort(ms_.begin(), ms_.end());
    auto at = [&](double q) {
      return ms_.empty() ? 0.0 : ms_[std::min(ms_.size() - 1, static_cast<size_t>(q * ms_.size()))];
    };
    Json errors = Json::object();
    for (const auto& [k, v] : errors_) errors[k] = v;
    return Json{{"count", ms_.size()}, {"p50_ms", at(0.50)}, {"p99_ms", at(0.99)},
                {"max_ms", ms_.empty() ? 0.0 : ms_.back()}, {"errors", errors}};
  }

 private:
  mutable std::mutex mu_;
  std::vector<double> ms_;
  std::map<std::string, int64_t> errors_;
};

template <typename F>
void Timed(Recorder& rec, F&& call) {
  auto t0 = Clock::now();
  Status s = call();
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (s.ok()) {
    rec.Ok(ms);
  } else {
    rec.Error(s);
  }
}

// Runs fn(i) for i in [0, n) on `threads` threads.
template <typename F>
void ParallelFor(int n, int threads, F&& fn) {
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i; (i = next++) < n;) fn(i);
    });
  }
  for (auto& t : pool) t.join();
}

struct Peer {
  std::string name;
  std::string token;
  std::unique_ptr<DirectoryClient> client;  // its own connection (not --shared-connections)
};

// The client that speaks for `p` on this thread: the peer's own, or with
// --shared-connections this thread's, carrying p's token.
DirectoryClient& As(const Flags& f, Peer& p) {
  if (!f.shared_connections) {
    if (!p.client) p.client = std::make_unique<DirectoryClient>(f.central, ClientOptions(f));
    return *p.client;  // its login set its token
  }
  thread_local std::unique_ptr<DirectoryClient> mine;
  if (!mine) mine = std::make_unique<DirectoryClient>(f.central, ClientOptions(f));
  mine->set_token(p.token);
  return *mine;
}

std::string PeerName(const Flags& f, int i) { return f.prefix + std::to_string(i); }

std::vector<FileEntry> FilesOf(const Flags& f, int peer) {
  if (f.realistic_shares != 0) {
    static const bench::Shares shares(f.realistic_shares);
    return shares.PeerFiles(peer, f.files);
  }
  std::vector<FileEntry> files;
  for (int j = 0; j < f.files; ++j) {
    FileEntry e;
    e.name = "shared/" + PeerName(f, peer) + "/track-" + std::to_string(j) + ".ogg";
    e.size = 1000 + j;
    e.sha256 = Sha256Hex(e.name);
    files.push_back(std::move(e));
  }
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"load-peers: many simulated peers against one central"};
  app.add_option("--central", f.central, "central's URL");
  app.add_option("--ca", f.ca_file, "PEM file of central's CA (for https)");
  app.add_option("--peers", f.peers, "simulated peers")->check(CLI::Range(1, 100000));
  app.add_option("--files", f.files, "files each peer indexes")->check(CLI::Range(0, 100000));
  app.add_option("--realistic-shares", f.realistic_shares,
                 "SEED: each peer's files are a realistic share (bench/shares.h) instead of track-N.ogg");
  app.add_option("--seconds", f.seconds, "length of the heartbeat phase")->check(CLI::Range(1, 86400));
  app.add_option("--searchers", f.searchers, "search threads")->check(CLI::Range(0, 256));
  app.add_option("--search-rate", f.search_rate, "searches per second in all")->check(CLI::Range(0.0, 1e6));
  app.add_option("--threads", f.threads, "heartbeat threads")->check(CLI::Range(1, 1024));
  app.add_option("--setup-threads", f.setup_threads, "threads that log in and index")
      ->check(CLI::Range(1, 1024));
  app.add_option("--prefix", f.prefix, "account name prefix");
  app.add_flag("--json", f.json, "print the summary as JSON");
  app.add_flag("--keep-online", f.keep_online, "leave the peers logged in at the end");
  app.add_option("--token-out", f.token_out, "write the first peer's token to this file");
  app.add_flag("--shared-connections", f.shared_connections,
               "each sending thread keeps one connection for all the peers it speaks for\n"
               "(default: one per peer, as real peers; this for a front end with fewer\n"
               "file descriptors than peers)");
  app.add_option("--pg-mark", f.mark,
                 "create this file when the measured phase starts and FILE.end when it ends\n"
                 "(for outside meters)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  DirectoryClient probe(f.central, ClientOptions(f));
  if (Status h = probe.Health(); !h.ok()) {
    std::fprintf(stderr, "load-peers: central at %s: %s\n", f.central.c_str(), h.message().c_str());
    return 1;
  }

  std::vector<Peer> peers(static_cast<size_t>(f.peers));
  // Heartbeats are recorded apart before and during the measured phase:
  // the figures are the measured phase's alone.
  Recorder login_rec, index_rec, setup_heartbeat_rec, heartbeat_rec, search_rec;
  std::atomic<bool> measuring{false};
  std::atomic<int64_t> interval_s{5};
  std::atomic<int64_t> ttl_s{15};

  // Heartbeats run from the start, as a real peer's do from its login on
  // (a slow set-up must not get peers evicted), spread evenly over the
  // interval, until the end of the measured phase.
  const auto t0 = Clock::now();
  std::atomic<Clock::rep> end_ticks{Clock::time_point::max().time_since_epoch().count()};
  auto end = [&] { return Clock::time_point(Clock::duration(end_ticks.load())); };
  std::unique_ptr<std::atomic<bool>[]> ready(new std::atomic<bool>[static_cast<size_t>(f.peers)]);
  for (int i = 0; i < f.peers; ++i) ready[static_cast<size_t>(i)] = false;
  // When each peer last sent a heartbeat (its login first), and the longest
  // silence between two: a peer silent for over the TTL here was late
  // because this machine could not drive it, and its eviction was earned.
  std::vector<Clock::time_point> last_sent(static_cast<size_t>(f.peers));
  std::vector<Clock::duration> longest_silence(static_cast<size_t>(f.peers), Clock::duration::zero());
  std::atomic<int64_t> evictions{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < f.threads; ++w) {
    workers.emplace_back([&, w] {
      if (w >= f.peers) return;  // no peer of its own: nothing to do (it would spin)
      for (int64_t round = 0;; ++round) {
        // A thread that fell a whole round behind skips what it missed, as
        // a real peer sends its next heartbeat, not every late one at once.
        const auto interval_now = std::chrono::seconds(interval_s.load());
        round = std::max<int64_t>(round, (Clock::now() - t0) / interval_now - 1);
        for (int i = w; i < f.peers; i += f.threads) {
          auto interval = std::chrono::seconds(interval_s.load());
          auto due = t0 + round * interval + interval * i / f.peers;
          if (due >= end()) return;
          std::this_thread::sleep_until(due);  // the peer's own schedule
          if (!ready[static_cast<size_t>(i)]) continue;
          const auto sent = Clock::now();
          auto& longest = longest_silence[static_cast<size_t>(i)];
          longest = std::max(longest, sent - last_sent[static_cast<size_t>(i)]);
          last_sent[static_cast<size_t>(i)] = sent;
          Timed(measuring ? heartbeat_rec : setup_heartbeat_rec, [&] {
            HeartbeatRequest hb;
            hb.free_bytes = int64_t{1} << 30;
            hb.active_transfers = 0;
            auto r = As(f, peers[static_cast<size_t>(i)]).Heartbeat(hb);
            if (!r.ok() && r.status().code() == Code::kUnauthenticated) evictions++;
            return r.status();
          });
        }
      }
    });
  }

  // 1. Register and log in, each peer from a host of its own.
  auto t_login = Clock::now();
  ParallelFor(f.peers, f.setup_threads, [&](int i) {
    Peer& p = peers[static_cast<size_t>(i)];
    p.name = PeerName(f, i);
    const std::string password = p.name + "-load-password";
    DirectoryClient& client = As(f, p);
    auto reg = client.Register(p.name, password);
    if (!reg.ok() && reg.status().reason() != "username_taken") {
      login_rec.Error(reg.status());
      return;
    }
    Timed(login_rec, [&] {
      LoginRequest req;
      req.username = p.name;
      req.password = password;
      req.host = "10." + std::to_string(i / 65536 % 256) + "." + std::to_string(i / 256 % 256) +
                 "." + std::to_string(i % 256);
      auto reply = client.Login(req);
      if (reply.ok()) {
        p.token = reply->token;
        interval_s = reply->heartbeat_interval_s;
        ttl_s = reply->session_ttl_s;
        last_sent[static_cast<size_t>(i)] = Clock::now();
        ready[static_cast<size_t>(i)] = true;
      }
      return reply.status();
    });
  });
  double login_s = std::chrono::duration<double>(Clock::now() - t_login).count();

  // 2. Index. The file lists are made first: the phase times central's
  // ingest (and each PUT's JSON), not this tool drawing names.
  std::vector<std::vector<FileEntry>> lists(static_cast<size_t>(f.peers));
  ParallelFor(f.peers, f.setup_threads, [&](int i) { lists[static_cast<size_t>(i)] = FilesOf(f, i); });
  auto t_index = Clock::now();
  ParallelFor(f.peers, f.setup_threads, [&](int i) {
    Timed(index_rec, [&] {
      return As(f, peers[static_cast<size_t>(i)]).ReplaceIndex(lists[static_cast<size_t>(i)]).status();
    });
  });
  lists.clear();
  double index_s = std::chrono::duration<double>(Clock::now() - t_index).count();

  // 3. The measured phase: heartbeats go on, searches run beside them.
  const auto start = Clock::now();
  measuring = true;
  if (!f.mark.empty()) std::ofstream(f.mark) << "measured phase\n";
  end_ticks = (start + std::chrono::seconds(f.seconds)).time_since_epoch().count();
  for (int s = 0; s < f.searchers && f.search_rate > 0; ++s) {
    workers.emplace_back([&, s] {
      DirectoryClient client(f.central, ClientOptions(f));
      std::mt19937 rng(static_cast<unsigned>(s + 1));
      const auto gap = std::chrono::duration<double>(f.searchers / f.search_rate);
      for (int k = 0;; ++k) {
        auto due = start + std::chrono::duration_cast<Clock::duration>(gap * k);
        if (due >= end() || Clock::now() >= end()) return;  // never run over the end
        std::this_thread::sleep_until(due);
        std::string q;
        switch (k % 4) {
          case 0: q = PeerName(f, static_cast<int>(rng() % f.peers)) + "/"; break;  // one peer's files
          case 1: q = "track-" + std::to_string(rng() % std::max(1, f.files)) + "."; break;  // every peer
          case 2: q = "*.ogg"; break;                                     // everything, first page
          default: q = "no-such-file-" + std::to_string(rng()); break;     // nothing
        }
        Timed(search_rec, [&] { return client.Search(q, 50).status(); });
      }
    });
  }
  for (auto& t : workers) t.join();
  if (!f.mark.empty()) std::ofstream(f.mark + ".end") << "measured phase over\n";

  // 4. Nobody was evicted: every peer is still online.
  int64_t late = 0;  // peers this tool left silent for longer than the TTL
  for (const auto& silence : longest_silence) late += silence > std::chrono::seconds(ttl_s.load());
  int64_t online = -1;
  if (auto list = probe.Peers(); list.ok()) {
    online = 0;
    for (const auto& p : *list) online += p.username.rfind(f.prefix, 0) == 0 ? 1 : 0;
  }
  if (!f.token_out.empty()) {
    std::ofstream(f.token_out) << peers[0].token << "\n";
  }
  if (!f.keep_online) {
    ParallelFor(f.peers, f.setup_threads,
                [&](int i) { (void)As(f, peers[static_cast<size_t>(i)]).Logout(); });
  }

  Json out{{"peers", f.peers},
           {"files_per_peer", f.files},
           {"seconds", f.seconds},
           {"heartbeat_interval_s", interval_s.load()},
           {"login_phase_s", login_s},
           {"index_phase_s", index_s},
           {"login", login_rec.Summary()},
           {"index", index_rec.Summary()},
           {"heartbeat", heartbeat_rec.Summary()},
           {"heartbeat_during_setup", setup_heartbeat_rec.Summary()},
           {"search", search_rec.Summary()},
           {"online_at_end", online},
           {"late_peers", late},
           {"evictions", evictions.load()}};
  const int64_t errors =
      login_rec.errors() + index_rec.errors() + setup_heartbeat_rec.errors() +
                         heartbeat_rec.errors() + search_rec.errors();
  const bool ok = errors == 0 && evictions == 0 && online == f.peers;
  if (f.json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("load-peers: %d peers x %d files, %d s of heartbeats every %lld s\n", f.peers,
                f.files, f.seconds, static_cast<long long>(interval_s.load()));
    std::printf("  login     %.1f s in all\n", login_s);
    std::printf("  index     %.1f s in all\n", index_s);
    for (const char* k : {"login", "index", "heartbeat_during_setup", "heartbeat", "search"}) {
      const Json& r = out[k];
      std::printf("  %-9s n=%-7lld p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  errors %s\n", k,
                  static_cast<long long>(r["count"].get<int64_t>()), r["p50_ms"].get<double>(),
                  r["p99_ms"].get<double>(), r["max_ms"].get<double>(), r["errors"].dump().c_str());
    }
    std::printf("  online at the end: %lld of %d; evictions seen: %lld; peers this tool left\n"
                "  silent for over the TTL: %lld\n",
                static_cast<long long>(online), f.peers, static_cast<long long>(evictions.load()),
                static_cast<long long>(late));
    std::printf("load-peers: %s\n", ok ? "OK" : "FAILED");
  }
  return ok ? 0 : 1;
}
