#include "tests/harness/kafka_broker.h"

#include <librdkafka/rdkafka.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/strings/str_split.h"
#include "sdk/base/strings.h"
#include "tests/harness/wait.h"

namespace saga::testing {
namespace {

std::string JavaBinary() {
  if (const char* home = std::getenv("JAVA_HOME"); home != nullptr && *home != '\0') {
    return saga::StrCat(home, "/bin/java");
  }
  return "java";
}

// True when a client can fetch the cluster's metadata from `bootstrap`.
bool MetadataAnswers(const std::string& bootstrap) {
  char errstr[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof(errstr));
  rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (rk == nullptr) return false;
  const rd_kafka_metadata_t* metadata = nullptr;
  bool ok = rd_kafka_metadata(rk, 1, nullptr, &metadata, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            metadata->broker_cnt > 0;
  if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
  rd_kafka_destroy(rk);
  return ok;
}

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaBroker>> KafkaBroker::Start() {
  std::unique_ptr<KafkaBroker> broker(new KafkaBroker());
  const char* jars = std::getenv("SAGAD_KAFKA_JARS");
  if (jars == nullptr || !std::filesystem::exists(std::string(jars) + "/kafka_2.13-" +
                                                  SAGAD_KAFKA_VERSION + ".jar")) {
    return absl::FailedPreconditionError(saga::StrCat(
        "the Apache Kafka ", SAGAD_KAFKA_VERSION, " broker jars are not in $SAGAD_KAFKA_JARS (",
        jars == nullptr ? "unset" : jars,
        "); run scripts/fetch-kafka, which resolves them from Maven Central, or scripts/test"));
  }
  broker->jars_ = saga::StrCat(jars, "/*");
  std::string tmpl = (std::filesystem::temp_directory_path() / "sagad-kafka-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  broker->dir_ = tmpl;
  int port = PickFreePort();
  int controller_port = PickFreePort();
  broker->bootstrap_ = saga::StrCat("127.0.0.1:", port);
  {
    std::ofstream props(broker->dir_ + "/server.properties");
    props << "process.roles=broker,controller\n"
          << "node.id=1\n"
          << "controller.quorum.bootstrap.servers=127.0.0.1:" << controller_port << "\n"
          << "listeners=PLAINTEXT://127.0.0.1:" << port << ",CONTROLLER://127.0.0.1:"
          << controller_port << "\n"
          << "advertised.listeners=PLAINTEXT://127.0.0.1:" << port << "\n"
          << "controller.listener.names=CONTROLLER\n"
          << "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
          << "inter.broker.listener.name=PLAINTEXT\n"
          << "log.dirs=" << broker->dir_ << "/data\n"
          << "num.partitions=4\n"
          << "offsets.topic.replication.factor=1\n"
          << "offsets.topic.num.partitions=4\n"
          << "transaction.state.log.replication.factor=1\n"
          << "transaction.state.log.min.isr=1\n"
          << "group.initial.rebalance.delay.ms=0\n"
          << "auto.create.topics.enable=true\n";
  }
  SpawnOptions format{
      .argv = {JavaBinary(), "-Xmx256m", "-cp", broker->jars_, "kafka.tools.StorageTool",
               "format", "--standalone", "-t", "c2FnYWQtdGVzdC1rYWZrYQ", "-c",
               broker->dir_ + "/server.properties"},
      .output_path = broker->dir_ + "/format.log"};
  auto code = RunToCompletion(format, absl::Seconds(120));
  if (!code.ok()) return code.status();
  if (*code != 0) {
    return absl::InternalError(saga::StrCat("formatting Kafka storage failed (exit ", *code,
                                            "): ", TailOfFile(broker->dir_ + "/format.log")));
  }
  absl::Status launched = broker->Launch();
  if (!launched.ok()) return launched;
  std::cerr << "[harness] real Apache Kafka " << SAGAD_KAFKA_VERSION
            << " broker (KRaft, kafka.Kafka on the JVM) serving on " << broker->bootstrap_
            << ", pid " << broker->pid() << "\n";
  return broker;
}

absl::Status KafkaBroker::Launch() {
  SpawnOptions run{.argv = {JavaBinary()}, .output_path = dir_ + "/broker.log"};
  // The JVM's memory and collector; for experiments, e.g.
  // SAGAD_TEST_KAFKA_JVM_OPTS="-Xmx512m -Xms512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20".
  const char* jvm_opts = std::getenv("SAGAD_TEST_KAFKA_JVM_OPTS");
  std::vector<std::string> opts =
      absl::StrSplit(jvm_opts != nullptr ? jvm_opts : "-Xmx512m -Xms256m -XX:+UseSerialGC", ' ',
                     absl::SkipEmpty());
  for (std::string& opt : opts) run.argv.push_back(std::move(opt));
  for (std::string arg : {std::string("-Djava.awt.headless=true"), std::string("-cp"), jars_,
                          std::string("kafka.Kafka"), dir_ + "/server.properties"}) {
    run.argv.push_back(std::move(arg));
  }
  auto child = ChildProcess::Spawn(run);
  if (!child.ok()) return child.status();
  process_ = *std::move(child);
  bool ready = WaitFor([&] { return !process_->Running() || MetadataAnswers(bootstrap_); },
                       absl::Seconds(120), absl::Milliseconds(200));
  if (!ready || !process_->Running()) {
    process_.reset();
    return absl::UnavailableError(saga::StrCat("the Kafka broker did not start at ", bootstrap_,
                                               ": ", TailOfFile(dir_ + "/broker.log")));
  }
  return absl::OkStatus();
}

absl::Status KafkaBroker::Stop() {
  if (!process_) return absl::OkStatus();
  process_->Signal(SIGTERM);
  if (!process_->Wait(absl::Seconds(30)).ok()) {
    process_->Signal(SIGKILL);
    auto code = process_->Wait(absl::Seconds(30));
    if (!code.ok()) return code.status();
  }
  process_.reset();
  return absl::OkStatus();
}

absl::Status KafkaBroker::Restart() {
  absl::Status stopped = Stop();
  if (!stopped.ok()) return stopped;
  return Launch();
}

KafkaBroker::~KafkaBroker() {
  (void)Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

KafkaBroker& SharedKafka() {
  static KafkaBroker* broker = [] {
    auto started = KafkaBroker::Start();
    if (!started.ok()) {
      std::cerr << "cannot start the test Kafka broker: " << started.status() << "\n";
      std::abort();
    }
    KafkaBroker* raw = started->release();
    std::atexit([] { delete broker; });
    return raw;
  }();
  return *broker;
}

}  // namespace saga::testing
