// WishWatch: the REPL's ear for its wishes (docs/protocol.md, "Wishes"). A
// thread asks this account's own peer-server (WishNews), which central
// tells over its channel, and keeps what comes until the REPL prints it
// (PeerClient::PrintEndedTransfers), waking the REPL at once. It starts
// at the peer-server's newest news: what came before the REPL started is
// in the peer-server's log, never told twice here.
//
// Thread-safe; Stop (or the destructor) joins the thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "p2pshare.grpc.pb.h"

namespace p2pshare::pclient {

class WishWatch {
 public:
  // `hosts`: where the peer-server answers (tried in turn), on `port`, as
  // `username`; `wake`: called from the thread when news came.
  WishWatch(std::vector<std::string> hosts, int port, std::string username, std::function<void()> wake);
  ~WishWatch();
  void Stop();
  // The news that came since the last call.
  std::vector<v1::WishNewsReply::News> Take();

 private:
  void Loop();
  // One WishNews call, on the first host that answers.
  grpc::Status Ask(uint64_t after, int wait_ms, v1::WishNewsReply* reply);

  const std::vector<std::string> hosts_;
  const int port_;
  const std::string username_;
  const std::function<void()> wake_;
  Mutex mu_;
  CondVar cv_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::unique_ptr<grpc::ClientContext> call_ GUARDED_BY(mu_);  // the call waiting now
  std::vector<v1::WishNewsReply::News> news_ GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace p2pshare::pclient
