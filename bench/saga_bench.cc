// saga_bench: completed sagas per second, against the limits of the same machine in the same
// run.
//
//   saga_bench [--quick] [--concurrency 8,32,128] [--seconds 10] [--instances 1]
//
// It starts a throwaway PostgreSQL, measures pgbench one-row-insert commits/s with 8 clients
// (the durable-commit limit), starts no-op gRPC participants in another process, measures the
// no-op gRPC calls/s of this client code against them (the transport limit), then runs sagad
// (this build) and drives a 3-step saga with an asynchronous closed-loop client (no thread per
// call in flight) at each concurrency:
// StartSaga with wait_for_completion, so each call's latency is StartSaga-to-COMPLETED.
// With --instances N, N sagad processes share the database and the client spreads its calls
// over them (docs/SCALING.md). It also prints sagad's resident memory idle (started, the
// definition registered) and after the load with its peak (VmHWM), from /proc.
// The last line is `ratio=` sagas/s at the best concurrency divided by pgbench commits/s; the
// line before it, `report:`, gives the figures for bench/run_all.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

#include <httplib.h>

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "saga/v1/saga_service.grpc.pb.h"
#include "sdk/base/strings.h"
#include "tests/harness/child_process.h"
#include "tests/harness/postgres_server.h"
#include "tests/harness/sagad_process.h"
#include "tests/harness/wait.h"

namespace {

using saga::testing::ChildProcess;

// --- the no-op participant (run as `saga_bench --participant PORT`) --------------------------

class NoOpService : public grpc::CallbackGenericService {
  class Reactor : public grpc::ServerGenericBidiReactor {
   public:
    Reactor() { StartRead(&request_); }
    void OnReadDone(bool ok) override {
      if (!ok) return Finish(grpc::Status::OK);
      grpc::Slice slice(std::string("ok"));
      response_ = grpc::ByteBuffer(&slice, 1);
      StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
    }
    void OnDone() override { delete this; }

   private:
    grpc::ByteBuffer request_, response_;
  };

 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    return new Reactor();
  }
};

int RunParticipant(int port) {
  NoOpService service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(saga::StrCat("127.0.0.1:", port), grpc::InsecureServerCredentials());
  builder.RegisterCallbackGenericService(&service);
  auto server = builder.BuildAndStart();
  if (!server) return 1;
  server->Wait();
  return 0;
}

// --- measurement helpers -----------------------------------------------------------------------

struct Figures {
  double per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  long count = 0;
};

Figures Summarize(std::vector<double> latencies_ms, absl::Duration elapsed) {
  Figures f;
  f.count = static_cast<long>(latencies_ms.size());
  f.per_second = f.count / absl::ToDoubleSeconds(elapsed);
  if (!latencies_ms.empty()) {
    std::sort(latencies_ms.begin(), latencies_ms.end());
    f.p50_ms = latencies_ms[latencies_ms.size() / 2];
    f.p99_ms = latencies_ms[std::min(latencies_ms.size() - 1, latencies_ms.size() * 99 / 100)];
  }
  return f;
}

// A closed loop without a thread per call: `concurrency` chains of asynchronous calls, each
// starting its next call from the completion of the previous one, for `duration`. `start`
// begins one call and runs `done(ok)` when it completes. Latencies of the calls that succeeded.
Figures ClosedLoop(int concurrency, absl::Duration duration,
                   const std::function<void(std::function<void(bool)> done)>& start,
                   long* failures) {
  struct Loop {
    absl::Mutex mu;
    std::vector<double> latencies ABSL_GUARDED_BY(mu);
    long failed ABSL_GUARDED_BY(mu) = 0;
    int active ABSL_GUARDED_BY(mu) = 0;
    bool stop ABSL_GUARDED_BY(mu) = false;
  } loop;
  std::function<void()> launch = [&] {
    const absl::Time t0 = absl::Now();
    start([&, t0](bool ok) {
      const double ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
      bool again;
      {
        absl::MutexLock lock(&loop.mu);
        if (ok) {
          loop.latencies.push_back(ms);
        } else {
          ++loop.failed;
        }
        again = !loop.stop;
        if (!again) --loop.active;
      }
      if (again) launch();
    });
  };
  const absl::Time begin = absl::Now();
  {
    absl::MutexLock lock(&loop.mu);
    loop.active = concurrency;
  }
  for (int i = 0; i < concurrency; ++i) launch();
  saga::testing::Pause(duration);
  absl::MutexLock lock(&loop.mu);
  loop.stop = true;
  const absl::Duration elapsed = absl::Now() - begin;
  loop.mu.AwaitWithTimeout(absl::Condition(
                               +[](Loop* l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(l->mu) {
                                 return l->active == 0;
                               },
                               &loop),
                           absl::Seconds(60));
  if (failures != nullptr) *failures = loop.failed;
  return Summarize(loop.latencies, elapsed);
}

double PgbenchTps(const saga::testing::PostgresServer& pg, const std::string& bin_dir,
                  const std::string& database, int seconds) {
  std::string dir = saga::StrCat("/tmp/saga_bench_", getpid());
  std::string mkdir = "mkdir -p " + dir + " && chmod 755 " + dir;
  if (std::system(mkdir.c_str()) != 0) return 0;
  {
    std::ofstream script(dir + "/insert.sql");
    script << "INSERT INTO bench_commit (v) VALUES (1);\n";
  }
  std::string setup = saga::StrCat(bin_dir, "/psql -q -h 127.0.0.1 -p ", pg.port(),
                                   " -U sagad -d ", database,
                                   " -c 'CREATE TABLE IF NOT EXISTS bench_commit "
                                   "(id bigserial PRIMARY KEY, v int)'");
  if (std::system(setup.c_str()) != 0) return 0;
  std::string out = dir + "/pgbench.out";
  std::string cmd = saga::StrCat(bin_dir, "/pgbench -n -h 127.0.0.1 -p ", pg.port(),
                                 " -U sagad -c 8 -j 2 -T ", seconds, " -f ", dir,
                                 "/insert.sql ", database, " > ", out, " 2>&1");
  if (std::system(cmd.c_str()) != 0) {
    std::cerr << saga::testing::TailOfFile(out) << "\n";
    return 0;
  }
  std::smatch m;
  std::string text = saga::testing::TailOfFile(out, 1 << 16);
  std::regex tps("tps = ([0-9.]+)");
  double result = std::regex_search(text, m, tps) ? std::stod(m[1]) : 0;
  (void)!std::system(("rm -rf " + dir).c_str());
  return result;
}

// Resident memory of `pid` in MiB: now (VmRSS) and its peak (VmHWM), from /proc.
std::pair<double, double> ResidentMiB(pid_t pid) {
  std::ifstream status(saga::StrCat("/proc/", pid, "/status"));
  std::string line;
  double rss = 0, hwm = 0;
  while (std::getline(status, line)) {
    std::istringstream fields(line);
    std::string key;
    double kib = 0;
    fields >> key >> kib;
    if (key == "VmRSS:") rss = kib / 1024;
    if (key == "VmHWM:") hwm = kib / 1024;
  }
  return {rss, hwm};
}

std::string BinDir() {
  if (const char* dir = std::getenv("SAGAD_PG_BINDIR"); dir != nullptr) return dir;
  FILE* p = popen("ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1", "r");
  char buf[512] = {0};
  if (p != nullptr) {
    if (fgets(buf, sizeof(buf), p) == nullptr) buf[0] = 0;
    pclose(p);
  }
  std::string dir(buf);
  while (!dir.empty() && (dir.back() == '\n' || dir.back() == '\r')) dir.pop_back();
  return dir;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  int seconds = 10;
  int instances = 1;
  std::vector<int> concurrencies = {8, 32, 128};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--participant" && i + 1 < argc) return RunParticipant(std::atoi(argv[i + 1]));
    if (arg == "--quick") {
      quick = true;
    } else if (arg == "--instances" && i + 1 < argc) {
      instances = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--seconds" && i + 1 < argc) {
      seconds = std::atoi(argv[++i]);
    } else if (arg == "--concurrency" && i + 1 < argc) {
      concurrencies.clear();
      for (auto part : absl::StrSplit(argv[++i], ',')) {
        int c;
        if (absl::SimpleAtoi(part, &c) && c > 0) concurrencies.push_back(c);
      }
    } else {
      std::cerr << "usage: saga_bench [--quick] [--seconds N] [--concurrency 8,32,128] "
                   "[--instances N]\n";
      return 2;
    }
  }
  if (quick) {
    seconds = 5;
    concurrencies = {16, 64};
  }
  const absl::Duration phase = absl::Seconds(seconds);
  std::cout << "saga_bench: " << (quick ? "quick" : "full") << " run, " << seconds
            << " s per phase, " << instances << " sagad instance(s), "
            << std::thread::hardware_concurrency() << " cores\n";

  auto pg = saga::testing::PostgresServer::Start();
  if (!pg.ok()) {
    std::cerr << pg.status() << "\n";
    return 1;
  }
  auto dsn = (*pg)->CreateDatabase("bench");
  if (!dsn.ok()) {
    std::cerr << dsn.status() << "\n";
    return 1;
  }
  const double pgbench = PgbenchTps(**pg, BinDir(), "bench", seconds);
  std::cout << "limit 1: pgbench one-row INSERT commits/s, 8 clients: " << pgbench << "\n";

  // No-op participants in another process.
  const int participant_port = saga::testing::PickFreePort();
  auto participant = ChildProcess::Spawn(
      {.argv = {"/proc/self/exe", "--participant", std::to_string(participant_port)}});
  if (!participant.ok() ||
      !saga::testing::WaitFor(
          [&] { return saga::testing::PortAcceptsConnections(participant_port); },
          absl::Seconds(10))) {
    std::cerr << "the no-op participant did not start\n";
    return 1;
  }
  const std::string target = saga::StrCat("127.0.0.1:", participant_port);
  {
    auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
    grpc::GenericStub stub(channel);
    const int c = concurrencies.back();
    Figures noop = ClosedLoop(c, phase, [&](std::function<void(bool)> done) {
      struct Call {
        grpc::ClientContext context;
        grpc::ByteBuffer request, response;
      };
      auto* call = new Call();
      grpc::Slice slice(std::string("x"));
      call->request = grpc::ByteBuffer(&slice, 1);
      stub.UnaryCall(&call->context, "/bench.Noop/Call", grpc::StubOptions(), &call->request,
                     &call->response, [call, done](grpc::Status s) {
                       delete call;
                       done(s.ok());
                     });
    }, nullptr);
    std::printf("limit 2: no-op gRPC calls/s, %d in flight: %.0f (p50 %.2f ms, p99 %.2f ms)\n",
                c, noop.per_second, noop.p50_ms, noop.p99_ms);
  }

  std::string output;
  auto migrated = saga::testing::SagadProcess::Run(*dsn, {"migrate"}, &output);
  if (!migrated.ok() || *migrated != 0) {
    std::cerr << output << "\n";
    return 1;
  }
  std::vector<std::unique_ptr<saga::testing::SagadProcess>> sagads;
  for (int i = 0; i < instances; ++i) {
    auto started = saga::testing::SagadProcess::Start(
        *dsn, {"SAGAD_LOG_LEVEL=warning", saga::StrCat("SAGAD_INSTANCE_ID=bench-", i)});
    if (!started.ok()) {
      std::cerr << started.status() << "\n";
      return 1;
    }
    sagads.push_back(*std::move(started));
  }
  auto& sagad = sagads.front();
  auto sagas = saga::v1::SagaService::NewStub(sagad->channel());
  {
    saga::v1::RegisterDefinitionRequest request;
    auto* d = request.mutable_definition();
    d->set_name("bench");
    std::string previous;
    for (const char* name : {"reserve", "charge", "ship"}) {
      auto* step = d->add_steps();
      step->set_name(name);
      step->mutable_action()->mutable_grpc()->set_target(target);
      step->mutable_action()->mutable_grpc()->set_method(saga::StrCat("/bench.Noop/", name));
      step->mutable_compensation()->mutable_grpc()->set_target(target);
      step->mutable_compensation()->mutable_grpc()->set_method("/bench.Noop/undo");
      if (!previous.empty()) step->add_depends_on(previous);
      previous = name;
    }
    saga::v1::RegisterDefinitionResponse response;
    grpc::ClientContext context;
    grpc::Status status = sagas->RegisterDefinition(&context, request, &response);
    if (!status.ok()) {
      std::cerr << status.error_message() << "\n";
      return 1;
    }
  }
  const double idle_rss = ResidentMiB(sagad->process().pid()).first;
  std::printf("sagad resident memory idle: %.1f MiB\n", idle_rss);
  double best = 0;
  Figures best_figures;
  int best_concurrency = 0;
  std::printf("%-12s %12s %10s %10s %10s\n", "concurrency", "sagas/s", "p50 ms", "p99 ms",
              "failures");
  for (int c : concurrencies) {
    // Several channels per instance, so the client side is not one HTTP/2 connection's
    // bottleneck; calls go round-robin over the instances.
    std::vector<std::unique_ptr<saga::v1::SagaService::Stub>> stubs;
    for (int i = 0; i < 4; ++i) {
      for (auto& instance : sagads) {
        grpc::ChannelArguments args;
        args.SetInt("grpc.channel_id", i);  // distinct channels, not one shared subchannel
        stubs.push_back(saga::v1::SagaService::NewStub(grpc::CreateCustomChannel(
            saga::StrCat("127.0.0.1:", instance->grpc_port()), grpc::InsecureChannelCredentials(),
            args)));
      }
    }
    long failures = 0;
    std::atomic<int> next_stub{0};
    Figures f = ClosedLoop(c, phase, [&](std::function<void(bool)> done) {
      struct Call {
        grpc::ClientContext context;
        saga::v1::StartSagaRequest request;
        saga::v1::StartSagaResponse response;
      };
      auto* call = new Call();
      call->request.set_definition_name("bench");
      call->request.set_wait_for_completion(true);
      call->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
      auto& stub = stubs[next_stub.fetch_add(1) % stubs.size()];
      stub->async()->StartSaga(&call->context, &call->request, &call->response,
                               [call, done](grpc::Status s) {
                                 bool ok = s.ok() && call->response.saga().state() ==
                                                         saga::v1::SAGA_STATE_COMPLETED;
                                 delete call;
                                 done(ok);
                               });
    }, &failures);
    std::printf("%-12d %12.0f %10.2f %10.2f %10ld\n", c, f.per_second, f.p50_ms, f.p99_ms,
                failures);
    if (f.per_second > best) {
      best = f.per_second;
      best_figures = f;
      best_concurrency = c;
    }
  }
  double commits = 0, transitions = 0, commit_seconds = 0;
  for (auto& instance : sagads) {
    httplib::Client http("127.0.0.1", instance->http_port());
    auto metrics = http.Get("/metrics");
    if (!metrics) continue;
    std::smatch m;
    auto value = [&](const std::string& name) {
      std::regex re("\n" + name + " ([0-9.e+]+)");
      return std::regex_search(metrics->body, m, re) ? std::stod(m[1]) : 0.0;
    };
    commits += value("sagad_commits_total");
    transitions += value("sagad_saga_transitions_total");
    commit_seconds += value("sagad_commit_seconds_total");
  }
  std::printf("sagad: %.0f group commits, %.1f saga transitions per commit, %.2f ms per commit\n",
              commits, commits > 0 ? transitions / commits : 0,
              commits > 0 ? 1000 * commit_seconds / commits : 0);
  const auto [load_rss, peak_rss] = ResidentMiB(sagad->process().pid());
  std::printf("sagad resident memory after the load: %.1f MiB, peak %.1f MiB\n", load_rss,
              peak_rss);
  for (auto& instance : sagads) (void)instance->Terminate();
  std::printf("sagas/s (best) %.0f, pgbench commits/s %.0f\n", best, pgbench);
  std::printf("report: bench=saga_bench figure=\"sagas/s, StartSaga to COMPLETED, %d in flight, "
              "%d instance(s)\" value=%.0f limit=\"pgbench one-row INSERT commits/s, 8 clients\" "
              "limit_value=%.0f ratio=%.3f p50_ms=%.2f p99_ms=%.2f target=\"ratio >= 0.5\" "
              "memory=\"sagad RSS idle %.1f MiB, peak %.1f MiB\"\n",
              best_concurrency, instances, best, pgbench, pgbench > 0 ? best / pgbench : 0.0,
              best_figures.p50_ms, best_figures.p99_ms, idle_rss, peak_rss);
  std::printf("ratio=%.3f\n", pgbench > 0 ? best / pgbench : 0.0);
  return 0;
}
