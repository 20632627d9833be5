#include "pclient/peer_words.h"

#include <spdlog/spdlog.h>

#include "common/grpc_status.h"

namespace p2pshare::pclient {
namespace {

// A peer's own words, at most this long (a hostile one could send pages).
constexpr size_t kPeerWordsMax = 160;

std::string Short(const std::string& words) {
  if (words.size() <= kPeerWordsMax) return words;
  return words.substr(0, kPeerWordsMax) + "...";
}

bool Says(const std::string& text, const char* what) { return text.find(what) != std::string::npos; }

}  // namespace

bool PeerAway(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

std::string PeerTrouble(const std::string& peer, const grpc::Status& s) {
  const std::string& m = s.error_message();
  spdlog::debug("call to {} failed: {} {}", peer, static_cast<int>(s.error_code()), m);
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      // gRPC's words for a connection that could not be made or broke.
      if (size_t at = m.find("refused the server: "); at != std::string::npos) {
        return "is not who it claims to be (" + Short(m.substr(at + 20)) + ")";  // our own check's words
      }
      if (Says(m, "andshake")) return "could not agree on a secure connection with us";
      if (Says(m, "Connection refused") || Says(m, "Socket closed") || Says(m, "Connection reset") ||
          Says(m, "End of TCP stream") || Says(m, "Broken pipe") || Says(m, "failed to connect") ||
          Says(m, "GOAWAY") || Says(m, "Connection timed out") || Says(m, "unreachable") || m.empty()) {
        return "went offline";
      }
      return "cannot be reached";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "did not answer in time";
    case grpc::StatusCode::NOT_FOUND:
      return "does not share it any more";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "is busy (" + Short(m) + ")";
    case grpc::StatusCode::UNAUTHENTICATED:
      if (m.starts_with("refused the server: ")) return "is not who it claims to be (" + Short(m.substr(20)) + ")";
      return "refused us: " + Short(m);
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::OUT_OF_RANGE:
      return "refused: " + Short(m);
    case grpc::StatusCode::CANCELLED:
      return "was stopped";
    default:
      return "failed on its side";
  }
}

Status PeerCallStatus(const std::string& peer, const grpc::Status& s, const std::string& doing) {
  Status st = FromGrpcStatus(s);
  return Status(st.code(), doing + ": " + peer + " " + PeerTrouble(peer, s), st.reason());
}

}  // namespace p2pshare::pclient
