#include "tests/harness/postgres_server.h"

#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>

#include "sdk/base/strings.h"
#include "sdk/base/uuid.h"
#include "tests/harness/wait.h"

namespace saga::testing {
namespace {

constexpr char kUser[] = "postgres";  // the OS user PostgreSQL runs as when we are root

// The newest /usr/lib/postgresql/N/bin, or $SAGAD_PG_BINDIR.
std::string FindBinDir() {
  if (const char* dir = std::getenv("SAGAD_PG_BINDIR"); dir != nullptr) return dir;
  std::string best;
  int best_version = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    int version = std::atoi(entry.path().filename().c_str());
    if (version > best_version && std::filesystem::exists(entry.path() / "bin" / "initdb")) {
      best_version = version;
      best = (entry.path() / "bin").string();
    }
  }
  return best;
}

std::optional<std::string> RunAs() {
  if (geteuid() != 0) return std::nullopt;
  return std::string(kUser);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  server->bin_dir_ = FindBinDir();
  if (server->bin_dir_.empty()) {
    return absl::FailedPreconditionError(
        "no PostgreSQL server binaries under /usr/lib/postgresql; run scripts/install-deps "
        "(apt-get install postgresql) or set SAGAD_PG_BINDIR");
  }
  std::string tmpl = (std::filesystem::temp_directory_path() / "sagad-pg-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  server->dir_ = tmpl;
  if (geteuid() == 0) {
    struct passwd* pw = getpwnam(kUser);
    if (pw == nullptr) {
      return absl::FailedPreconditionError(
          "running as root, and there is no `postgres` user to run PostgreSQL as; install the "
          "postgresql package (scripts/install-deps)");
    }
    if (chown(server->dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return absl::InternalError(saga::StrCat("cannot chown ", server->dir_));
    }
  }
  SpawnOptions initdb{
      .argv = {server->bin_dir_ + "/initdb", "-D", server->dir_ + "/data", "-A", "trust", "-U",
               "sagad", "-E", "UTF8", "--no-sync", "--no-instructions"},
      .output_path = server->dir_ + "/initdb.log",
      .run_as = RunAs()};
  auto code = RunToCompletion(initdb, absl::Seconds(120));
  if (!code.ok()) return code.status();
  if (*code != 0) {
    return absl::InternalError(saga::StrCat("initdb failed (exit ", *code, "): ",
                                            TailOfFile(server->dir_ + "/initdb.log")));
  }
  // The port was free a moment ago; another process may take it first, so try a few.
  absl::Status started;
  for (int attempt = 0; attempt < 5; ++attempt) {
    server->port_ = PickFreePort();
    started = server->StartPostmaster();
    if (started.ok()) {
      std::cerr << "[harness] real PostgreSQL (" << server->bin_dir_ << "/postgres) serving on 127.0.0.1:"
                << server->port_ << ", pid " << server->pid() << ", data in " << server->dir_
                << "\n";
      return server;
    }
  }
  return started;
}

absl::Status PostgresServer::StartPostmaster() {
  SpawnOptions postgres{
      .argv = {bin_dir_ + "/postgres", "-D", dir_ + "/data", "-p", std::to_string(port_), "-k",
               dir_, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300", "-c",
               "shared_buffers=128MB"},
      .output_path = dir_ + "/postgres.log",
      .run_as = RunAs()};
  // Extra settings for experiments, e.g. SAGAD_TEST_PG_SETTINGS="wal_init_zero=off".
  if (const char* extra = std::getenv("SAGAD_TEST_PG_SETTINGS"); extra != nullptr) {
    std::istringstream settings(extra);
    for (std::string setting; settings >> setting;) {
      postgres.argv.push_back("-c");
      postgres.argv.push_back(setting);
    }
  }
  auto child = ChildProcess::Spawn(postgres);
  if (!child.ok()) return child.status();
  postmaster_ = *std::move(child);
  std::string conninfo = saga::StrCat("host=127.0.0.1 port=", port_, " dbname=postgres user=sagad");
  bool ready = WaitFor(
      [&] { return !postmaster_->Running() || PQping(conninfo.c_str()) == PQPING_OK; },
      absl::Seconds(60));
  if (!ready || !postmaster_->Running()) {
    postmaster_.reset();
    return absl::UnavailableError(saga::StrCat("PostgreSQL did not start on port ", port_, ": ",
                                               TailOfFile(dir_ + "/postgres.log")));
  }
  return absl::OkStatus();
}

absl::Status PostgresServer::RestartImmediate() {
  postmaster_->Signal(SIGQUIT);  // what pg_ctl -m immediate sends
  auto code = postmaster_->Wait(absl::Seconds(30));
  if (!code.ok()) return code.status();
  postmaster_.reset();
  return StartPostmaster();
}

PostgresServer::~PostgresServer() {
  if (postmaster_) {
    postmaster_->Signal(SIGINT);  // fast shutdown
    (void)postmaster_->Wait(absl::Seconds(30));
    postmaster_.reset();
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string PostgresServer::Dsn(std::string_view database) const {
  return saga::StrCat("postgresql://sagad@127.0.0.1:", port_, "/", database);
}

absl::StatusOr<std::string> PostgresServer::CreateDatabase(std::string_view name) {
  PGconn* conn = PQconnectdb(Dsn("postgres").c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string error = PQerrorMessage(conn);
    PQfinish(conn);
    return absl::UnavailableError(saga::StrCat("connecting to the test PostgreSQL: ", error));
  }
  std::string sql = saga::StrCat("CREATE DATABASE \"", name, "\"");
  PGresult* result = PQexec(conn, sql.c_str());
  bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
  std::string error = ok ? "" : PQerrorMessage(conn);
  PQclear(result);
  PQfinish(conn);
  if (!ok) return absl::InternalError(saga::StrCat("CREATE DATABASE ", name, ": ", error));
  return Dsn(name);
}

absl::StatusOr<std::string> PostgresServer::CreateFreshDatabase() {
  return CreateDatabase("t" + NewUuid().substr(0, 8));
}

PostgresServer& SharedPostgres() {
  static PostgresServer* server = [] {
    auto started = PostgresServer::Start();
    if (!started.ok()) {
      std::cerr << "cannot start the test PostgreSQL: " << started.status() << "\n";
      std::abort();
    }
    PostgresServer* raw = started->release();
    std::atexit([] { delete server; });
    return raw;
  }();
  return *server;
}

}  // namespace saga::testing
