#include "common/config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "central/central_config.h"
#include "common/peer_config.h"
#include "unit/test_dir.h"

namespace p2pshare {
namespace {

using central::CentralConfig;

struct Loaded {
  Status status;
  CentralConfig config;
};

Loaded LoadCentral(const std::string& json, std::vector<std::string> args = {}) {
  testing::TestDir dir;
  std::string path = dir / "central.json";
  std::ofstream(path) << json;
  Loaded out;
  ConfigSchema schema;
  central::DescribeCentralConfig(schema, &out.config);
  CLI::App app;
  schema.AddFlags(app);
  std::vector<std::string> argv_store = {"central"};
  for (auto& a : args) argv_store.push_back(a);
  std::vector<char*> argv;
  for (auto& a : argv_store) argv.push_back(a.data());
  app.parse(static_cast<int>(argv.size()), argv.data());
  out.status = schema.Load(path);
  if (out.status.ok()) out.status = central::ValidateCentralConfig(out.config);
  return out;
}

TEST(ConfigTest, DefaultsHoldForAnEmptyFile) {
  Loaded l = LoadCentral("{}");
  ASSERT_TRUE(l.status.ok()) << l.status.message();
  EXPECT_EQ(l.config.listen, "127.0.0.1:8080");
  EXPECT_EQ(l.config.db, "data/central.db");
  EXPECT_EQ(l.config.port_range, (std::pair<int64_t, int64_t>(50051, 50150)));
  EXPECT_EQ(l.config.heartbeat_interval_s, 5);
  EXPECT_EQ(l.config.session_ttl_s, 15);
}

TEST(ConfigTest, UnknownKeyIsNamed) {
  Loaded l = LoadCentral(R"({"listen": "127.0.0.1:1", "sesion_ttl_s": 3})");
  ASSERT_FALSE(l.status.ok());
  EXPECT_NE(l.status.message().find("unknown key 'sesion_ttl_s'"), std::string::npos)
      << l.status.message();
  EXPECT_EQ(l.status.message().find('\n'), std::string::npos);
}

TEST(ConfigTest, AMisspelledKeyGetsTheKeyItProbablyMeant) {
  Loaded l = LoadCentral(R"({"sesion_ttl_s": 3})");
  ASSERT_FALSE(l.status.ok());
  EXPECT_NE(l.status.message().find("did you mean 'session_ttl_s'?"), std::string::npos) << l.status.message();
  Loaded far = LoadCentral(R"({"colour": 3})");
  ASSERT_FALSE(far.status.ok());
  EXPECT_EQ(far.status.message().find("did you mean"), std::string::npos) << far.status.message();
}

TEST(ConfigTest, DidYouMeanOnlyForCloseWords) {
  const std::vector<std::string> words = {"search", "download", "upload", "peers"};
  EXPECT_EQ(DidYouMean("serach", words), "search");
  EXPECT_EQ(DidYouMean("downlaod", words), "download");
  EXPECT_EQ(DidYouMean("peer", words), "peers");
  EXPECT_EQ(DidYouMean("xyz", words), std::nullopt);
  EXPECT_EQ(DidYouMean("up", words), std::nullopt);  // too short to guess
}

TEST(ConfigTest, RelativePathsInAFileAreTheFilesOwnFlagsAreTheWorkingDirectorys) {
  testing::TestDir dir;
  std::filesystem::create_directories(dir.path() / "conf");
  const std::string path = (dir.path() / "conf" / "central.json").string();
  std::ofstream(path) << R"({"db": "../data/central.db", "ca_dir": "/abs/ca"})";
  CentralConfig config;
  ConfigSchema schema;
  central::DescribeCentralConfig(schema, &config);
  CLI::App app;
  schema.AddFlags(app);
  const char* argv[] = {"central"};
  app.parse(1, const_cast<char**>(argv));
  ASSERT_TRUE(schema.Load(path).ok());
  EXPECT_EQ(config.db, (dir.path() / "data" / "central.db").string());
  EXPECT_EQ(config.ca_dir, "/abs/ca");
  // sqlite:<relative path> resolves its path part.
  std::ofstream(path) << R"({"db": "sqlite:central.db"})";
  ASSERT_TRUE(schema.Load(path).ok());
  EXPECT_EQ(config.db, "sqlite:" + (dir.path() / "conf" / "central.db").string());
  // A flag's relative path is the shell's: left for the working directory.
  Loaded flagged = LoadCentral("{}", {"--db", "here.db"});
  ASSERT_TRUE(flagged.status.ok()) << flagged.status.message();
  EXPECT_EQ(flagged.config.db, "here.db");
}

TEST(ConfigTest, BadValuesAreNamed) {
  struct Case {
    const char* json;
    const char* key;
  } cases[] = {
      {R"({"session_ttl_s": "fifteen"})", "session_ttl_s"},
      {R"({"session_ttl_s": 0})", "session_ttl_s"},
      {R"({"port_range": [50150, 50051]})", "port_range"},
      {R"({"port_range": [1]})", "port_range"},
      {R"({"public_read": "yes"})", "public_read"},
      {R"({"log_level": "loud"})", "log_level"},
      {R"({"listen": "nowhere"})", "listen"},
      {R"({"heartbeat_interval_s": 20})", "session_ttl_s"},
  };
  for (const Case& c : cases) {
    Loaded l = LoadCentral(c.json);
    ASSERT_FALSE(l.status.ok()) << c.json;
    EXPECT_NE(l.status.message().find(c.key), std::string::npos)
        << c.json << " -> " << l.status.message();
  }
}

TEST(ConfigTest, MalformedFileIsReported) {
  Loaded l = LoadCentral("{\"listen\": ");
  ASSERT_FALSE(l.status.ok());
  EXPECT_NE(l.status.message().find("not valid JSON"), std::string::npos);
  // Where: the line and column of the mistake.
  Loaded at = LoadCentral("{\n  \"listen\": \"127.0.0.1:1\"\n  \"tls\": true\n}");  // a comma missing
  ASSERT_FALSE(at.status.ok());
  EXPECT_NE(at.status.message().find("line 3, column"), std::string::npos) << at.status.message();
  EXPECT_EQ(at.status.message().find('\n'), std::string::npos) << at.status.message();
}

TEST(ConfigTest, FlagsBeatTheFile) {
  Loaded l = LoadCentral(R"({"session_ttl_s": 30, "public_read": true})",
                         {"--session-ttl-s", "40", "--public-read", "false", "--port-range",
                          "6000", "6009"});
  ASSERT_TRUE(l.status.ok()) << l.status.message();
  EXPECT_EQ(l.config.session_ttl_s, 40);
  EXPECT_FALSE(l.config.public_read);
  EXPECT_EQ(l.config.port_range, (std::pair<int64_t, int64_t>(6000, 6009)));
}

TEST(ConfigTest, ScalarFlagsTakeOneWordAndListsAreCommaSeparated) {
  PeerConfig c;
  ConfigSchema schema;
  DescribePeerConfig(schema, &c);
  CLI::App app;
  schema.AddFlags(app);
  app.prefix_command();
  std::vector<std::string> args = {"peer-client", "--download-dir", "d", "--friends",
                                   "h1:1,h2:2", "search", "x"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  app.parse(static_cast<int>(argv.size()), argv.data());
  ASSERT_TRUE(schema.Load("").ok());
  EXPECT_EQ(c.download_dir, "d");
  EXPECT_EQ(c.friends, (std::vector<std::string>{"h1:1", "h2:2"}));
  EXPECT_EQ(app.remaining(), (std::vector<std::string>{"search", "x"}));
}

TEST(ConfigTest, RatesAreNumbersOrStringsWithBinaryUnits) {
  auto load = [](const std::string& json, int64_t* rate) {
    PeerConfig c;
    ConfigSchema schema;
    DescribePeerConfig(schema, &c);
    Status s = schema.ApplyJson(Json::parse(json), "peer.json");
    *rate = c.max_upload_rate;
    return s;
  };
  int64_t rate = -1;
  ASSERT_TRUE(load("{}", &rate).ok());
  EXPECT_EQ(rate, 0) << "no limit by default";
  ASSERT_TRUE(load(R"({"max_upload_rate": 1048576})", &rate).ok());
  EXPECT_EQ(rate, 1048576);
  ASSERT_TRUE(load(R"({"max_upload_rate": "2M"})", &rate).ok());
  EXPECT_EQ(rate, 2 << 20);
  ASSERT_TRUE(load(R"({"max_upload_rate": "800K"})", &rate).ok());
  EXPECT_EQ(rate, 800 << 10);
  ASSERT_TRUE(load(R"({"max_upload_rate": "0"})", &rate).ok());
  EXPECT_EQ(rate, 0);
  for (const char* bad : {R"({"max_upload_rate": "fast"})", R"({"max_upload_rate": "2T"})",
                          R"({"max_upload_rate": -5})", R"({"max_upload_rate": "-1M"})",
                          R"({"max_upload_rate": true})", R"({"max_upload_rate": "1e30"})"}) {
    Status s = load(bad, &rate);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.message().find("max_upload_rate"), std::string::npos) << s.message();
  }
  EXPECT_EQ(ParseByteRate("1.5G").value(), int64_t{3} << 29);
}

TEST(ConfigTest, BadFlagIsNamed) {
  Loaded l = LoadCentral("{}", {"--session-ttl-s", "soon"});
  ASSERT_FALSE(l.status.ok());
  EXPECT_NE(l.status.message().find("--session-ttl-s"), std::string::npos);
}

TEST(PeerConfigTest, NeedsAUsernameAndTakesThePasswordFromTheEnvironment) {
  PeerConfig c;
  EXPECT_FALSE(FinishPeerConfig(&c, nullptr).ok());
  c.username = "alice";
  ASSERT_TRUE(FinishPeerConfig(&c, "from-env").ok());
  EXPECT_EQ(c.password, "from-env");
  c.friends = {"127.0.0.1:x"};
  Status s = FinishPeerConfig(&c, nullptr);
  EXPECT_NE(s.message().find("friends"), std::string::npos);
}

TEST(PeerConfigTest, AdvertiseAndListenHostsAreEmptyByDefaultAndOtherwiseAHostAlone) {
  PeerConfig c;
  c.username = "alice";
  EXPECT_EQ(c.advertise_host, "") << "default: the address central sees";
  EXPECT_EQ(c.listen_host, "") << "default: every interface";
  ASSERT_TRUE(FinishPeerConfig(&c, "pw").ok());
  for (const char* good : {"203.0.113.7", "fd77::12", "lab-3.example.org"}) {
    c.advertise_host = good;
    c.listen_host = good;
    EXPECT_TRUE(FinishPeerConfig(&c, "pw").ok()) << good;
  }
  for (const char* bad : {"[fd77::12]", "10.0.0.1:50051", "a b", "1.2.3.4,5.6.7.8", "x\n"}) {
    c.advertise_host = bad;
    c.listen_host = "";
    Status s = FinishPeerConfig(&c, "pw");
    EXPECT_NE(s.message().find("advertise_host"), std::string::npos) << bad << ": " << s.message();
    c.advertise_host = "";
    c.listen_host = bad;
    s = FinishPeerConfig(&c, "pw");
    EXPECT_NE(s.message().find("listen_host"), std::string::npos) << bad << ": " << s.message();
  }
}

}  // namespace
}  // namespace p2pshare
