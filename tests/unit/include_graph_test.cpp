// The project's files include each other in one direction only: no cycle
// between modules (a module is a .h with its .cc, e.g. pclient/transfers),
// so each floor can be read, built and tested on what is below it.
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace p2pshare {
namespace {

namespace fs = std::filesystem;

// module -> the modules it includes (project headers only).
std::map<std::string, std::set<std::string>> IncludeGraph() {
  std::map<std::string, std::set<std::string>> graph;
  const std::regex include(R"re(^\s*#\s*include\s+"((central|common|pserver|pclient)/[^"]+)\.h")re");
  for (const char* dir : {"central", "common", "pserver", "pclient"}) {
    for (const auto& entry : fs::directory_iterator(fs::path(P2P_SOURCE_DIR) / dir)) {
      const std::string ext = entry.path().extension().string();
      if (ext != ".h" && ext != ".cc" && ext != ".cpp") continue;
      const std::string module = std::string(dir) + "/" + entry.path().stem().string();
      auto& edges = graph[module];
      std::ifstream in(entry.path());
      std::smatch m;
      for (std::string line; std::getline(in, line);) {
        if (std::regex_search(line, m, include) && m[1].str() != module) edges.insert(m[1].str());
      }
    }
  }
  return graph;
}

// A cycle through the graph, as "a -> b -> a"; empty when there is none.
std::string FindCycle(const std::map<std::string, std::set<std::string>>& graph) {
  std::map<std::string, int> color;  // 0 unseen, 1 on the path, 2 done
  std::vector<std::string> path;
  std::string found;
  std::function<void(const std::string&)> visit = [&](const std::string& m) {
    color[m] = 1;
    path.push_back(m);
    auto it = graph.find(m);
    if (it != graph.end()) {
      for (const std::string& next : it->second) {
        if (!found.empty()) break;
        if (color[next] == 1) {
          auto from = std::find(path.begin(), path.end(), next);
          for (; from != path.end(); ++from) found += *from + " -> ";
          found += next;
        } else if (color[next] == 0) {
          visit(next);
        }
      }
    }
    path.pop_back();
    color[m] = 2;
  };
  for (const auto& [m, edges] : graph) {
    if (color[m] == 0 && found.empty()) visit(m);
  }
  return found;
}

TEST(IncludeGraphTest, NoModuleOfTheProjectIncludesItselfThroughOthers) {
  const auto graph = IncludeGraph();
  ASSERT_GT(graph.size(), 50u) << "the sources were not found under " << P2P_SOURCE_DIR;
  EXPECT_EQ(FindCycle(graph), "");
}

TEST(IncludeGraphTest, TheCheckFindsACycle) {
  EXPECT_EQ(FindCycle({{"a", {"b"}}, {"b", {"c"}}, {"c", {"a"}}}), "a -> b -> c -> a");
  EXPECT_EQ(FindCycle({{"a", {"b"}}, {"b", {"c"}}, {"c", {}}}), "");
}

}  // namespace
}  // namespace p2pshare
