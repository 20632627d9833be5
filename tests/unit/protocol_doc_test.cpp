// docs/protocol.md is the contract: it must name every route central
// serves, every RPC and message of the peer service, every config key of
// each program and every command of peer-client. A route or key added
// without its documentation fails here.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "central/central_config.h"
#include "central/http_api.h"
#include "common/config.h"
#include "common/peer_config.h"
#include "p2pshare.grpc.pb.h"
#include "pclient/command_line.h"

namespace p2pshare {
namespace {

std::string ProtocolDoc() {
  std::ifstream in(P2P_SOURCE_DIR "/docs/protocol.md");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool Mentions(const std::string& doc, const std::string& code) {
  return doc.find("`" + code + "`") != std::string::npos;
}

TEST(ProtocolDocTest, EveryRouteHasItsSection) {
  const std::string doc = ProtocolDoc();
  ASSERT_FALSE(doc.empty()) << "docs/protocol.md is missing";
  for (const auto& route : central::HttpApi::Routes()) {
    std::string heading = std::string("#### `") + route.method + " " + route.path + "`";
    EXPECT_NE(doc.find(heading), std::string::npos) << "no section " << heading;
  }
}

TEST(ProtocolDocTest, EveryRpcAndMessageIsDescribed) {
  const std::string doc = ProtocolDoc();
  const google::protobuf::ServiceDescriptor* service =
      v1::PingRequest::descriptor()->file()->FindServiceByName("PeerService");
  ASSERT_NE(service, nullptr);
  for (int i = 0; i < service->method_count(); ++i) {
    const std::string heading = "### `" + service->method(i)->name() + "`";
    EXPECT_NE(doc.find(heading), std::string::npos) << "no section " << heading;
  }
  const google::protobuf::FileDescriptor* file = service->file();
  for (int i = 0; i < file->message_type_count(); ++i) {
    const std::string& name = file->message_type(i)->name();
    EXPECT_NE(doc.find(name), std::string::npos) << "message " << name << " is not described";
  }
}

TEST(ProtocolDocTest, EveryConfigKeyIsInItsTable) {
  const std::string doc = ProtocolDoc();
  const size_t central_part = doc.find("### central");
  const size_t peer_part = doc.find("### peers");
  ASSERT_NE(central_part, std::string::npos);
  ASSERT_NE(peer_part, std::string::npos);
  const std::string central_table = doc.substr(central_part, peer_part - central_part);
  const std::string peer_table = doc.substr(peer_part);

  central::CentralConfig c;
  ConfigSchema central_schema;
  central::DescribeCentralConfig(central_schema, &c);
  for (const std::string& key : central_schema.keys()) {
    EXPECT_TRUE(Mentions(central_table, key)) << "central key " << key;
  }
  PeerConfig p;
  ConfigSchema peer_schema;
  DescribePeerConfig(peer_schema, &p);
  for (const std::string& key : peer_schema.keys()) {
    EXPECT_TRUE(Mentions(peer_table, key)) << "peer key " << key;
  }
}

TEST(ProtocolDocTest, EveryCommandOfPeerClientIsInItsTable) {
  const std::string doc = ProtocolDoc();
  for (const auto& command : pclient::Commands()) {
    EXPECT_NE(doc.find("| `" + command.name), std::string::npos) << "command " << command.name;
  }
}

}  // namespace
}  // namespace p2pshare
