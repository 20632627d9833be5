// A PostgreSQL database of its own for one test, on the throwaway cluster
// ctest starts (fixture `postgres`: scripts/pg-cluster.sh writes its URL to
// the file named by P2PSHARE_TEST_PG_FILE), dropped when the test ends.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <string>

namespace p2pshare::testing {

// The cluster's admin URL; nullopt (with the reason) when none is set up.
inline std::optional<std::string> TestClusterUrl(std::string* why) {
  const char* file = std::getenv("P2PSHARE_TEST_PG_FILE");
  if (file == nullptr) {
    *why = "P2PSHARE_TEST_PG_FILE is not set (ctest's `postgres` fixture sets it)";
    return std::nullopt;
  }
  std::ifstream in(file);
  std::string url;
  if (!(in >> url)) {
    ADD_FAILURE() << "no PostgreSQL URL in " << file << " (did the pg_cluster_start test fail?)";
    *why = "no cluster";
    return std::nullopt;
  }
  return url;
}

class TestDatabase {
 public:
  // Creates the database; url() is empty (and the test skipped by the
  // caller) when no cluster is set up.
  TestDatabase() {
    std::string why;
    auto admin = TestClusterUrl(&why);
    if (!admin) return;
    admin_ = *admin;
    std::random_device rd;
    name_ = "t" + std::to_string(rd()) + std::to_string(rd());
    if (!Exec("CREATE DATABASE " + name_)) return;
    url_ = admin_.substr(0, admin_.rfind('/') + 1) + name_;
  }
  ~TestDatabase() {
    if (!url_.empty()) Exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  }
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }
  // Runs `sql` on this test's database (e.g. to look at what central wrote).
  bool Run(const std::string& sql) const { return ExecOn(url_, sql); }

 private:
  bool Exec(const std::string& sql) const { return ExecOn(admin_, sql); }
  static bool ExecOn(const std::string& url, const std::string& sql) {
    PGconn* c = PQconnectdb(url.c_str());
    bool ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
      PGresult* r = PQexec(c, sql.c_str());
      ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
      if (!ok) ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r);
      PQclear(r);
    } else {
      ADD_FAILURE() << "cannot connect to " << url << ": " << PQerrorMessage(c);
    }
    PQfinish(c);
    return ok;
  }

  std::string admin_, name_, url_;
};

}  // namespace p2pshare::testing
