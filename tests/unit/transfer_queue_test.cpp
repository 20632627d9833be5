// The REPL's background transfer queue: order, two at once, cancel, retry,
// the lines that say how each ended.
#include "pclient/transfer_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace p2pshare::pclient {
namespace {

// Jobs that run until released (or stopped), and a count of queue wake-ups.
class Gate {
 public:
  TransferQueue::Job Job(Result<std::string> outcome) {
    return [this, outcome](TransferQueue::Control& control) -> Result<std::string> {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++started_;
      }
      cv_.notify_all();
      control.Progress(TransferProgress{10, 100, {}, ""});
      std::unique_lock<std::mutex> lock(mu_);
      // A stop comes as a flag; the job looks at it as a transfer does.
      while (!open_ && !control.StopRequested()) cv_.wait_for(lock, std::chrono::milliseconds(5));
      if (control.StopRequested()) return Status(Code::kCancelled, "stopped; 10 B of 100 B verified are kept");
      return outcome;
    };
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool WaitStarted(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(5), [&] { return started_ >= n; });
  }
  int started() {
    std::lock_guard<std::mutex> lock(mu_);
    return started_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int started_ = 0;
};

// Waits until `queue` has `n` ended lines to take (the wake-up counts them).
struct Wakes {
  std::mutex mu;
  std::condition_variable cv;
  int count = 0;
  void Wake() {
    std::lock_guard<std::mutex> lock(mu);
    ++count;
    cv.notify_all();
  }
  bool WaitFor(int n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(5), [&] { return count >= n; });
  }
};

TransferState StateOf(const TransferQueue& q, int id) { return q.List().at(id - 1).state; }

TEST(TransferQueueTest, TwoRunAtOnceTheRestWaitAndEachEndIsALine) {
  Gate gate;
  Wakes wakes;
  TransferQueue q(2, [&] { wakes.Wake(); });
  EXPECT_EQ(*q.Add("download", "a", "ka", gate.Job(std::string("downloaded a"))), 1);
  EXPECT_EQ(*q.Add("download", "b", "kb", gate.Job(Status(Code::kUnavailable, "no holder answered"))), 2);
  EXPECT_EQ(*q.Add("upload", "c", "kc", gate.Job(std::string("uploaded c"))), 3);
  ASSERT_TRUE(gate.WaitStarted(2));
  EXPECT_EQ(StateOf(q, 3), TransferState::kQueued);
  EXPECT_EQ(q.Active(), 3);
  // The same transfer is not queued twice while it runs.
  auto twice = q.Add("download", "a", "ka", gate.Job(std::string("x")));
  EXPECT_EQ(twice.status().code(), Code::kAlreadyExists);
  EXPECT_NE(twice.status().message().find("#1"), std::string::npos);
  EXPECT_EQ(q.List().at(0).done, 10);
  gate.Open();
  ASSERT_TRUE(wakes.WaitFor(3));
  EXPECT_EQ(StateOf(q, 1), TransferState::kDone);
  EXPECT_EQ(StateOf(q, 2), TransferState::kFailed);
  EXPECT_EQ(StateOf(q, 3), TransferState::kDone);
  auto lines = q.TakeEnded();
  ASSERT_EQ(lines.size(), 3u);
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines[0], "[#1] downloaded a");
  EXPECT_EQ(lines[1], "[#2] download of b failed: no holder answered; 'retry 2' tries again");
  EXPECT_EQ(lines[2], "[#3] uploaded c");
  EXPECT_TRUE(q.TakeEnded().empty()) << "a line is said once";
  EXPECT_EQ(q.Active(), 0);
}

TEST(TransferQueueTest, CancelStopsARunningOneAndDropsAQueuedOneAndRetryRunsItAgain) {
  Gate gate;
  Wakes wakes;
  TransferQueue q(1, [&] { wakes.Wake(); });
  ASSERT_TRUE(q.Add("download", "a", "ka", gate.Job(std::string("downloaded a"))).ok());
  ASSERT_TRUE(q.Add("download", "b", "kb", gate.Job(std::string("downloaded b"))).ok());
  ASSERT_TRUE(gate.WaitStarted(1));
  ASSERT_TRUE(q.Cancel(2).ok());  // queued: dropped before it starts
  EXPECT_EQ(StateOf(q, 2), TransferState::kStopped);
  ASSERT_TRUE(q.Cancel(1).ok());  // running: stopped, keeping its pieces
  ASSERT_TRUE(wakes.WaitFor(1));
  EXPECT_EQ(StateOf(q, 1), TransferState::kStopped);
  auto lines = q.TakeEnded();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "[#1] download of a stopped: 10 B of 100 B verified are kept; 'retry 1' resumes it");
  EXPECT_EQ(gate.started(), 1) << "the cancelled queued one ran";
  EXPECT_EQ(q.Cancel(1).code(), Code::kFailedPrecondition);
  EXPECT_EQ(q.Cancel(9).code(), Code::kNotFound);
  gate.Open();
  ASSERT_TRUE(q.Retry(1).ok());
  ASSERT_TRUE(wakes.WaitFor(2));
  EXPECT_EQ(StateOf(q, 1), TransferState::kDone);
  EXPECT_EQ(q.Retry(1).code(), Code::kFailedPrecondition) << "a done one is not run again";
}

TEST(TransferQueueTest, CloseStopsWhatRunsAndRefusesMore) {
  Gate gate;
  TransferQueue q(1, nullptr);
  ASSERT_TRUE(q.Add("download", "a", "ka", gate.Job(std::string("downloaded a"))).ok());
  ASSERT_TRUE(q.Add("download", "b", "kb", gate.Job(std::string("downloaded b"))).ok());
  ASSERT_TRUE(gate.WaitStarted(1));
  q.Close();
  EXPECT_EQ(StateOf(q, 1), TransferState::kStopped);
  EXPECT_EQ(StateOf(q, 2), TransferState::kStopped);
  EXPECT_EQ(q.TakeEnded().size(), 1u);
  EXPECT_FALSE(q.Add("download", "c", "kc", gate.Job(std::string("x"))).ok());
}

TEST(TransferQueueTest, ADownloadWhoseHoldersAreAwayWaitsAndResumesByItselfWhenOneIsBack) {
  // The job finds no holder twice, then one: it is never "failed", and
  // nobody has to type 'retry'.
  std::atomic<int> runs{0};
  Wakes wakes;
  TransferQueue q(1, [&] { wakes.Wake(); });
  auto job = [&](TransferQueue::Control& control) -> Result<std::string> {
    const int run = ++runs;
    EXPECT_EQ(control.attempt(), run - 1) << "each try asks who holds it now";
    if (run < 3) return Unavailable("could not complete a: carol went offline; 7 B of 9 B verified are kept", "no_holder");
    return std::string("downloaded a");
  };
  ASSERT_TRUE(q.Add("download", "a", "ka", job, "download abc --to /x").ok());
  ASSERT_TRUE(wakes.WaitFor(1));
  auto first = q.TakeEnded();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0], "[#1] a: could not complete a: carol went offline; 7 B of 9 B verified are kept; "
                      "waiting for a holder: it resumes by itself ('cancel 1' gives up)");
  EXPECT_EQ(q.Active(), 1) << "a waiting download is still the queue's";
  // The same file again meanwhile is the same transfer.
  EXPECT_EQ(q.Add("download", "a", "ka", job).status().code(), Code::kAlreadyExists);
  ASSERT_TRUE(wakes.WaitFor(3)) << "it did not run again by itself";
  EXPECT_EQ(runs.load(), 3);
  EXPECT_EQ(StateOf(q, 1), TransferState::kDone);
  auto lines = q.TakeEnded();
  ASSERT_EQ(lines.size(), 1u) << "the second wait said nothing new";
  EXPECT_EQ(lines[0], "[#1] downloaded a");
}

TEST(TransferQueueTest, AWaitingDownloadIsGivenUpByCancelRunAtOnceByRetryAndLeavingSaysHowToResume) {
  Wakes wakes;
  TransferQueue q(1, [&] { wakes.Wake(); });
  std::atomic<int> runs{0};
  auto away = [&](TransferQueue::Control&) -> Result<std::string> {
    ++runs;
    return Unavailable("no other peer holds a right now; 5 B of 9 B verified are kept", "no_holder");
  };
  ASSERT_TRUE(q.Add("download", "a", "ka", away, "download aaa").ok());
  ASSERT_TRUE(q.Add("download", "b", "kb", away, "download bbb --to /y").ok());
  ASSERT_TRUE(wakes.WaitFor(2));
  EXPECT_EQ(StateOf(q, 1), TransferState::kWaiting);
  EXPECT_EQ(StateName(StateOf(q, 1)), "waiting for a holder");
  ASSERT_TRUE(q.Cancel(1).ok());
  EXPECT_EQ(StateOf(q, 1), TransferState::kStopped);
  EXPECT_NE(q.List().at(0).note.find("gave up waiting for a holder: "), std::string::npos);
  const int before = runs.load();
  ASSERT_TRUE(q.Retry(2).ok());  // at once, not at its time
  ASSERT_TRUE(wakes.WaitFor(3));
  EXPECT_GT(runs.load(), before);
  q.TakeEnded();
  q.Close();
  auto lines = q.TakeEnded();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "[#2] download of b stopped while waiting for a holder: no other peer holds a right now; "
                      "5 B of 9 B verified are kept; 'download bbb --to /y' in a later session resumes it");
}

}  // namespace
}  // namespace p2pshare::pclient
