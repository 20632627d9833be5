#include "common/peer_channel.h"

#include "common/host_port.h"
#include "common/transfer_tuning.h"

namespace p2pshare {

std::shared_ptr<grpc::Channel> PeerChannel(const std::string& host, int port) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxPeerMessageBytes);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kHttp2WindowBytes);
  args.SetInt(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, kHttp2MaxFrameBytes);
  return grpc::CreateCustomChannel(JoinHostPort(host, port), grpc::InsecureChannelCredentials(),
                                   args);
}

std::unique_ptr<v1::PeerService::Stub> PeerStub(const std::string& host, int port) {
  return v1::PeerService::NewStub(PeerChannel(host, port));
}

void AddPeerListeningPort(grpc::ServerBuilder* builder, const std::string& host, int port,
                          int* bound) {
  builder->AddListeningPort(JoinHostPort(host, port), grpc::InsecureServerCredentials(), bound);
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kHttp2WindowBytes);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, kHttp2MaxFrameBytes);
}

}  // namespace p2pshare
