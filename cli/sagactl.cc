// sagactl: the operators' command line over sagad's gRPC API. Run `sagactl help` for the
// commands with examples. Output is a table for people, or JSON (--output json, one object per
// line) for scripts. Exit codes: 0 success, 2 a usage error, 10 + the gRPC status code when
// sagad refused (e.g. 15 NOT_FOUND, 19 FAILED_PRECONDITION, 26 UNAUTHENTICATED), 1 otherwise.
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "saga/v1/admin_service.grpc.pb.h"
#include "saga/v1/saga_service.grpc.pb.h"
#include "saga/v1/tcc_service.grpc.pb.h"

ABSL_FLAG(std::string, addr, "", "sagad's gRPC address (env SAGAD_ADDR, default 127.0.0.1:50051)");
ABSL_FLAG(std::string, token, "", "bearer token (env SAGAD_TOKEN)");
ABSL_FLAG(std::string, output, "table", "table or json");
ABSL_FLAG(std::string, tls_ca, "", "PEM CAs to verify sagad's certificate: use TLS");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate (mutual TLS)");
ABSL_FLAG(std::string, tls_key, "", "PEM key of --tls_cert");
ABSL_FLAG(std::string, reason, "", "why: recorded in the saga's history (abort, retry, replay, skip)");
ABSL_FLAG(std::string, from_step, "", "replay: from this step backwards (default: every step that ran)");
ABSL_FLAG(bool, dry_run, false, "replay: list what would run, change nothing");
ABSL_FLAG(std::string, definition, "", "list, quarantined, replay: only sagas of this definition");
ABSL_FLAG(std::string, state, "", "list: only sagas in this state, e.g. QUARANTINED");
ABSL_FLAG(std::string, error_contains, "", "replay: only sagas whose error contains this");
ABSL_FLAG(std::vector<std::string>, payload, {}, "start: step=text payloads, comma-separated");
ABSL_FLAG(std::string, key, "", "start: idempotency key");
ABSL_FLAG(bool, wait, false, "start: wait for the saga to end");
ABSL_FLAG(int, limit, 0, "list, quarantined, history, parked: at most this many (default 100)");

namespace {

constexpr char kHelp[] = R"help(sagactl: operate sagad from the command line.

  sagactl [flags] COMMAND ARGS...

Sagas
  register FILE                     register a definition (.textproto, or .json as in the API)
      sagactl register examples/definitions/order_express.textproto
  start DEFINITION [--payload step=text,...] [--key K] [--wait]
      sagactl start order --wait
  get SAGA_ID                       a saga and its steps
  list [--definition D] [--state S] sagas, newest first
      sagactl list --state QUARANTINED --output json
  history SAGA_ID                   what happened, oldest first
  watch SAGA_ID                     its history, then each event as it happens, until it ends
  definitions [NAME]                registered definitions (every version of NAME)
  abort SAGA_ID --reason R          compensate a running saga

When a participant was broken (admin role)
  quarantined [--definition D]      sagas whose compensation kept failing
  retry SAGA_ID --reason R          compensate a quarantined saga again from where it stopped
  replay SAGA_ID --reason R [--from_step S] [--dry_run]
  replay --definition D [--error_contains T] --reason R [--dry_run]
                                    run compensations again (the dry run lists exactly what runs)
      sagactl replay 0b1f... --dry_run --reason "refunds restored (INC-2041)"
  skip SAGA_ID STEP --reason R      count a step as done without calling it
  parked                            outbox messages the relay gave up on

TCC
  tcc GLOBAL_ID                     a TCC transaction and its branches (json: its history too)

Connection: --addr (SAGAD_ADDR, default 127.0.0.1:50051), --token (SAGAD_TOKEN), TLS with
--tls_ca [--tls_cert --tls_key]. Output: --output table|json.
Exit codes: 0 ok, 2 usage, 10 + gRPC code when sagad refused (15 NOT_FOUND, 19
FAILED_PRECONDITION, 16 UNAUTHENTICATED -> 26), 1 other errors.
)help";

struct UsageError {
  std::string what;
};

std::string Env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw UsageError{"cannot read " + path};
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

class Client {
 public:
  Client() {
    const std::string addr =
        absl::GetFlag(FLAGS_addr).empty() ? Env("SAGAD_ADDR", "127.0.0.1:50051")
                                          : absl::GetFlag(FLAGS_addr);
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
    if (!absl::GetFlag(FLAGS_tls_ca).empty()) {
      grpc::SslCredentialsOptions options;
      options.pem_root_certs = ReadFile(absl::GetFlag(FLAGS_tls_ca));
      if (!absl::GetFlag(FLAGS_tls_cert).empty()) {
        options.pem_cert_chain = ReadFile(absl::GetFlag(FLAGS_tls_cert));
        options.pem_private_key = ReadFile(absl::GetFlag(FLAGS_tls_key));
      }
      credentials = grpc::SslCredentials(options);
    }
    auto channel = grpc::CreateChannel(addr, credentials);
    sagas = saga::v1::SagaService::NewStub(channel);
    admin = saga::v1::AdminService::NewStub(channel);
    tcc = saga::v1::TccService::NewStub(channel);
    token_ = absl::GetFlag(FLAGS_token).empty() ? Env("SAGAD_TOKEN", "")
                                                : absl::GetFlag(FLAGS_token);
  }

  std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout = absl::Seconds(30)) const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    if (!token_.empty()) context->AddMetadata("authorization", "Bearer " + token_);
    return context;
  }

  std::unique_ptr<saga::v1::SagaService::Stub> sagas;
  std::unique_ptr<saga::v1::AdminService::Stub> admin;
  std::unique_ptr<saga::v1::TccService::Stub> tcc;

 private:
  std::string token_;
};

bool Json() { return absl::GetFlag(FLAGS_output) == "json"; }

void PrintJson(const google::protobuf::Message& m) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &json, options);
  std::cout << json << "\n";
}

// Fixed-width columns.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t c = 0; c < cells.size(); ++c) {
      std::cout << cells[c];
      if (c + 1 < cells.size()) std::cout << std::string(width[c] - cells[c].size() + 2, ' ');
    }
    std::cout << "\n";
  };
  line(header);
  for (const auto& row : rows) line(row);
}

std::string Trim(const std::string& prefix, const std::string& name) {
  return absl::StartsWith(name, prefix) ? name.substr(prefix.size()) : name;
}

std::string Time(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

void PrintSagas(const google::protobuf::RepeatedPtrField<saga::v1::Saga>& sagas) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : sagas) {
    rows.push_back({s.saga_id(), s.definition_name() + "@" + std::to_string(s.definition_version()),
                    Trim("SAGA_STATE_", saga::v1::SagaState_Name(s.state())),
                    Time(s.create_time()), s.error()});
  }
  PrintTable({"SAGA_ID", "DEFINITION", "STATE", "CREATED", "ERROR"}, rows);
}

void PrintSaga(const saga::v1::Saga& s) {
  if (Json()) return PrintJson(s);
  std::cout << "saga " << s.saga_id() << "  " << s.definition_name() << "@"
            << s.definition_version() << "  " << Trim("SAGA_STATE_", saga::v1::SagaState_Name(s.state()))
            << (s.error().empty() ? "" : "  error: " + s.error()) << "\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& step : s.steps()) {
    rows.push_back({step.name(), Trim("STEP_STATE_", saga::v1::StepState_Name(step.state())),
                    std::to_string(step.attempts()), std::to_string(step.compensation_attempts()),
                    step.last_error()});
  }
  PrintTable({"STEP", "STATE", "ATTEMPTS", "COMPENSATIONS", "LAST_ERROR"}, rows);
}

std::vector<std::string> EventRow(const saga::v1::SagaEvent& e) {
  return {std::to_string(e.sequence()), Time(e.time()),
          Trim("TYPE_", saga::v1::SagaEvent::Type_Name(e.type())), e.step(), e.actor(),
          e.reason(), e.error()};
}

const std::vector<std::string> kEventHeader = {"SEQ",   "TIME",   "EVENT", "STEP",
                                               "ACTOR", "REASON", "DETAIL"};

// Throws UsageError unless exactly `n` positional arguments.
void Want(const std::vector<std::string>& args, size_t n, const char* usage) {
  if (args.size() != n) throw UsageError{std::string("usage: sagactl ") + usage};
}

std::string Reason(const char* command) {
  if (absl::GetFlag(FLAGS_reason).empty()) {
    throw UsageError{std::string(command) + " needs --reason: it is recorded in the history"};
  }
  return absl::GetFlag(FLAGS_reason);
}

int Refused(const grpc::Status& status) {
  std::cerr << "sagactl: " << status.error_message() << " (gRPC code " << status.error_code()
            << ")\n";
  return 10 + static_cast<int>(status.error_code());
}

int Run(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0] == "help") {
    std::cout << kHelp;
    return argv.empty() ? 2 : 0;
  }
  const std::string command = argv[0];
  const std::vector<std::string> args(argv.begin() + 1, argv.end());
  Client client;
  grpc::Status status;
  const int limit = absl::GetFlag(FLAGS_limit);

  if (command == "register") {
    Want(args, 1, "register FILE");
    saga::v1::RegisterDefinitionRequest request;
    const std::string text = ReadFile(args[0]);
    bool parsed = absl::EndsWith(args[0], ".json")
                      ? google::protobuf::util::JsonStringToMessage(text, &request).ok()
                      : google::protobuf::TextFormat::ParseFromString(
                            text, request.mutable_definition());
    if (!parsed) throw UsageError{args[0] + " is not a definition (text format, or JSON with "
                                            "a \"definition\" field)"};
    saga::v1::RegisterDefinitionResponse response;
    status = client.sagas->RegisterDefinition(client.Context().get(), request, &response);
    if (!status.ok()) return Refused(status);
    if (Json()) {
      PrintJson(response);
    } else {
      std::cout << response.definition().name() << " version " << response.definition().version()
                << (response.created() ? " registered" : " (already registered)") << "\n";
    }
  } else if (command == "start") {
    Want(args, 1, "start DEFINITION [--payload step=text,...] [--key K] [--wait]");
    saga::v1::StartSagaRequest request;
    request.set_definition_name(args[0]);
    request.set_idempotency_key(absl::GetFlag(FLAGS_key));
    request.set_wait_for_completion(absl::GetFlag(FLAGS_wait));
    for (const std::string& p : absl::GetFlag(FLAGS_payload)) {
      std::pair<std::string, std::string> kv = absl::StrSplit(p, absl::MaxSplits('=', 1));
      (*request.mutable_payloads())[kv.first] = kv.second;
    }
    saga::v1::StartSagaResponse response;
    status = client.sagas->StartSaga(client.Context(absl::Minutes(5)).get(), request, &response);
    if (!status.ok()) return Refused(status);
    PrintSaga(response.saga());
  } else if (command == "get") {
    Want(args, 1, "get SAGA_ID");
    saga::v1::GetSagaRequest request;
    request.set_saga_id(args[0]);
    saga::v1::GetSagaResponse response;
    status = client.sagas->GetSaga(client.Context().get(), request, &response);
    if (!status.ok()) return Refused(status);
    PrintSaga(response.saga());
  } else if (command == "list") {
    Want(args, 0, "list [--definition D] [--state S]");
    saga::v1::ListSagasRequest request;
    request.set_definition_name(absl::GetFlag(FLAGS_definition));
    if (!absl::GetFlag(FLAGS_state).empty()) {
      saga::v1::SagaState state;
      std::string name = absl::GetFlag(FLAGS_state);
      if (!absl::StartsWith(name, "SAGA_STATE_")) name = "SAGA_STATE_" + name;
      if (!saga::v1::SagaState_Parse(name, &state)) {
        throw UsageError{"--state: " + absl::GetFlag(FLAGS_state) + " is not a saga state"};
      }
      request.add_states(state);
    }
    request.set_page_size(limit);
    saga::v1::ListSagasResponse response;
    status = client.sagas->ListSagas(client.Context().get(), request, &response);
    if (!status.ok()) return Refused(status);
    if (Json()) {
      for (const auto& s : response.sagas()) PrintJson(s);
    } else {
      PrintSagas(response.sagas());
    }
  } else if (command == "history") {
    Want(args, 1, "history SAGA_ID");
    saga::v1::GetHistoryRequest request;
    request.set_saga_id(args[0]);
    request.set_page_size(limit == 0 ? 1000 : limit);
    saga::v1::GetHistoryResponse response;
    status = client.admin->GetHistory(client.Context().get(), request, &response);
    if (!status.ok()) return Refused(status);
    if (Json()) {
      for (const auto& e : response.events()) PrintJson(e);
    } else {
      std::vector<std::vector<std::string>> rows;
      for (const auto& e : response.events()) rows.push_back(EventRow(e));
      PrintTable(kEventHeader, rows);
    }
  } else if (command == "watch") {
    Want(args, 1, "watch SAGA_ID");
    saga::v1::WatchSagaRequest request;
    request.set_saga_id(args[0]);
    auto context = client.Context(absl::Hours(24));
    auto reader = client.sagas->WatchSaga(context.get(), request);
    saga::v1::WatchSagaResponse event;
    while (reader->Read(&event)) {
      if (Json()) {
        PrintJson(event.event());
      } else {
        // One event a line as it comes: no column widths known in advance.
        std::vector<std::string> row = EventRow(event.event());
        std::cout << absl::StrJoin(row, "  ") << std::endl;
      }
    }
    status = reader->Finish();
    if (!status.ok()) return Refused(status);
  } else if (command == "definitions") {
    if (args.size() > 1) throw UsageError{"usage: sagactl definitions [NAME]"};
    saga::v1::ListDefinitionsRequest request;
    if (!args.empty()) {
      request.set_name(args[0]);
      request.set_all_versions(true);
    }
    request.set_page_size(limit);
    saga::v1::ListDefinitionsResponse response;
    status = client.sagas->ListDefinitions(client.Context().get(), request, &response);
    if (!status.ok()) return Refused(status);
    if (Json()) {
      for (const auto& d : response.definitions()) PrintJson(d);
    } else {
      std::vector<std::vector<std::string>> rows;
      for (const auto& d : response.definitions()) {
        rows.push_back({d.name(), std::to_string(d.version()), std::to_string(d.steps_size()),
                        Time(d.create_time()), d.description()});
      }
      PrintTable({"NAME", "VERSION", "STEPS", "REGISTERED", "DESCRIPTION"}, rows);
    }
  } else if (command == "abort") {
    Want(args, 1, "abort SAGA_ID --reason R");
    saga::v1::AbortSagaRequest request;
    request.set_saga_id(args[0]);
    request.set_reason(Reason("abort"));
    saga::v1::AbortSagaResponse response;
    status = client.sagas->AbortSaga(client.Context().get(), request, &response);
    if (!status.ok()) return Refused(status);
    PrintSaga(response.saga());
  } else if (command == "quarantined") {
    Want(args, 0, "quarantined [--definition D]");
    saga::v1::ListQuarantinedRequest request;
    request.set_definition_name(absl::GetFlag(FLAGS_definition));
    request.set_page_size(limit);
    saga::v1::ListQuarantinedResponse response;
    status = client.admin->ListQuarantined(client.Context().get(), request, &response);
    if (!status.ok()) return Refused(status);
    if (Json()) {
      for (const auto& s : response.sagas()) PrintJson(s);
    } else {
      PrintSagas(response.sagas());
    }
  } else if (command == "retry") {
    Want(args, 1, "retry SAGA_ID --reason R");
    saga::v1::RetrySagaRequest request;
    request.set_saga_id(args[0]);
    request.set_reason(Reason("retry"));
    saga::v1::RetrySagaResponse response;
    status = client.admin->RetrySaga(client.Context().get(), request, &response);
    if (!status.ok()) return Refused(status);
    PrintSaga(response.saga());
  } else if (command == "replay") {
    saga::v1::ReplayCompensationRequest request;
    if (args.size() == 1) {
      request.set_saga_id(args[0]);
    } else if (args.empty() && !absl::GetFlag(FLAGS_definition).empty()) {
      request.mutable_filter()->set_definition_name(absl::GetFlag(FLAGS_definition));
      request.mutable_filter()->set_error_contains(absl::GetFlag(FLAGS_error_contains));
      request.set_limit(limit);
    } else {
      throw UsageError{"usage: sagactl replay SAGA_ID --reason R [--from_step S] [--dry_run], "
                       "or replay --definition D [--error_contains T] --reason R [--dry_run]"};
    }
    request.set_from_step(absl::GetFlag(FLAGS_from_step));
    request.set_dry_run(absl::GetFlag(FLAGS_dry_run));
    request.set_reason(Reason("replay"));
    saga::v1::ReplayCompensationResponse response;
    status = client.admin->ReplayCompensation(client.Context(absl::Minutes(5)).get(), request,
                                              &response);
    if (!status.ok()) return Refused(status);
    if (Json()) {
      PrintJson(response);
    } else {
      std::cout << (response.dry_run() ? "would replay (dry run): " : "replaying: ")
                << response.saga_count() << " saga(s), " << response.plan_size()
                << " compensation(s)\n";
      std::vector<std::vector<std::string>> rows;
      for (const auto& p : response.plan()) {
        rows.push_back({p.saga_id(), std::to_string(p.order()), p.step()});
      }
      PrintTable({"SAGA_ID", "ORDER", "STEP"}, rows);
    }
  } else if (command == "skip") {
    Want(args, 2, "skip SAGA_ID STEP --reason R");
    saga::v1::SkipStepRequest request;
    request.set_saga_id(args[0]);
    request.set_step(args[1]);
    request.set_reason(Reason("skip"));
    saga::v1::SkipStepResponse response;
    status = client.admin->SkipStep(client.Context().get(), request, &response);
    if (!status.ok()) return Refused(status);
    PrintSaga(response.saga());
  } else if (command == "parked") {
    Want(args, 0, "parked");
    saga::v1::ListParkedRequest request;
    request.set_page_size(limit);
    saga::v1::ListParkedResponse response;
    status = client.admin->ListParked(client.Context().get(), request, &response);
    if (!status.ok()) return Refused(status);
    if (Json()) {
      for (const auto& m : response.messages()) PrintJson(m);
    } else {
      std::vector<std::vector<std::string>> rows;
      for (const auto& m : response.messages()) {
        rows.push_back({m.message_id(), m.topic(), std::to_string(m.attempts()),
                        Time(m.park_time()), m.last_error()});
      }
      PrintTable({"MESSAGE_ID", "TOPIC", "ATTEMPTS", "PARKED", "LAST_ERROR"}, rows);
    }
  } else if (command == "tcc") {
    Want(args, 1, "tcc GLOBAL_ID");
    saga::v1::GetTransactionRequest request;
    request.set_global_id(args[0]);
    saga::v1::GetTransactionResponse response;
    status = client.tcc->GetTransaction(client.Context().get(), request, &response);
    if (!status.ok()) return Refused(status);
    if (Json()) {
      PrintJson(response);
      return 0;
    }
    const auto& t = response.transaction();
    std::cout << "tcc " << t.global_id() << "  " << Trim("TCC_STATE_", saga::v1::TccState_Name(t.state()))
              << "\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& b : t.branches()) {
      rows.push_back({b.branch_id(), b.done() ? "yes" : "no", std::to_string(b.attempts()),
                      b.last_error()});
    }
    PrintTable({"BRANCH", "DONE", "ATTEMPTS", "LAST_ERROR"}, rows);
  } else {
    throw UsageError{"unknown command \"" + command + "\"; sagactl help lists them"};
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("operate sagad; `sagactl help` lists the commands with examples");
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_output) != "table" && absl::GetFlag(FLAGS_output) != "json") {
    std::cerr << "sagactl: --output is table or json\n";
    return 2;
  }
  std::vector<std::string> args(positional.begin() + 1, positional.end());
  try {
    return Run(args);
  } catch (const UsageError& e) {
    std::cerr << "sagactl: " << e.what << "\n";
    return 2;
  }
}
