// SPDX-License-Identifier: BSD-2-Clause
// A real PostgreSQL 15 server for the tests that need one: started once per
// test binary by tests/support/pg_tmp.sh (a throwaway cluster on a Unix
// socket in a temporary directory, run as the postgres user when the test
// is root), stopped at exit; each test takes a fresh database of its own.
// Needs SW_PG_TMP (the script's path) defined by the build.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace sw::controller {

// The output and exit status of a shell command.
inline int Shell(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[512];
  std::string s;
  while (size_t n = fread(buf, 1, sizeof buf, p)) s.append(buf, n);
  const int rc = pclose(p);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (out) *out = s;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// One server for the whole binary (started by the first test that needs
// it, stopped at exit); each test gets a database of its own.
class Server {
 public:
  static Server& Get() {
    static Server s;
    return s;
  }
  bool ok() const { return !dir_.empty() && why_.empty(); }
  const std::string& why() const { return why_; }
  const std::string& dir() const { return dir_; }
  std::string Url(const std::string& db) const {
    return "postgresql:///" + db + "?host=" + dir_ + "&user=postgres";
  }
  std::string Script(const std::string& verb) const {
    std::string script = SW_PG_TMP;
    script.append(" ").append(verb).append(" ").append(dir_);
    return script;
  }
  // A fresh, empty database; its URL.
  std::string NewDatabase() {
    const std::string db = "t" + std::to_string(++dbs_);
    std::string err;
    Sql(Url("postgres"), "CREATE DATABASE " + db, &err);
    EXPECT_EQ(err, "");
    return Url(db);
  }
  // Runs sql (several statements allowed); the first value of its last
  // result, or "" (err tells why, when it failed).
  static std::string Sql(const std::string& url, const std::string& sql, std::string* err) {
    PGconn* c = PQconnectdb(url.c_str());
    std::string out;
    err->clear();
    if (PQstatus(c) != CONNECTION_OK) {
      *err = PQerrorMessage(c);
    } else {
      PGresult* r = PQexec(c, sql.c_str());
      const auto st = PQresultStatus(r);
      if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        *err = PQresultErrorMessage(r);
      } else if (PQntuples(r) > 0) {
        out = PQgetvalue(r, 0, 0);
      }
      PQclear(r);
    }
    PQfinish(c);
    return out;
  }
  ~Server() {
    if (!dir_.empty()) Shell(Script("stop") + " >/dev/null 2>&1");
  }

 private:
  Server() {
    if (access("/usr/lib/postgresql/15/bin/initdb", X_OK) != 0) {
      why_ = "no /usr/lib/postgresql/15/bin/initdb (apt-get install postgresql)";
      return;
    }
    char tmpl[] = "/tmp/sw-pg.XXXXXX";
    if (!mkdtemp(tmpl)) {
      why_ = "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    std::string url;
    const int rc = Shell(Script("start"), &url);
    if (rc == 77) {
      why_ = "pg_tmp.sh cannot run PostgreSQL here";
    } else if (rc != 0) {
      why_ = "pg_tmp.sh start failed";
      ADD_FAILURE() << why_ << " (" << rc << ")";
    }
  }
  std::string dir_, why_;
  int dbs_ = 0;
};

}  // namespace sw::controller
