#include "coordinator/definition_validator.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_join.h"
#include "outbox/topic_name.h"
#include "sdk/base/status_macros.h"
#include "sdk/base/strings.h"

namespace saga::coordinator {
namespace {

using saga::v1::Endpoint;
using saga::v1::RetryPolicy;
using saga::v1::SagaDefinition;
using saga::v1::Step;
using saga::v1::StepKind;

constexpr int64_t kMaxDurationSeconds = 7 * 24 * 3600;

absl::Status Invalid(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(saga::StrCat(field, ": ", what));
}

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentStart(char c) { return IsLower(c) || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }

// A lowercase name: a letter, then letters, digits and `extra`, up to `max` characters.
absl::Status ValidateLowerName(std::string_view name, std::string_view field, size_t max,
                               std::string_view extra) {
  if (name.empty()) return Invalid(field, "is required");
  bool ok = name.size() <= max && IsLower(name[0]);
  for (char c : name) ok = ok && (IsLower(c) || IsDigit(c) || extra.find(c) != extra.npos);
  if (!ok) {
    return Invalid(field, saga::StrCat("\"", name, "\" is not a valid name; use 1 to ", max,
                                       " characters of [a-z0-9", extra,
                                       "] starting with a letter"));
  }
  return absl::OkStatus();
}

// "/package.Service/Method" (the package may be absent).
bool IsGrpcMethodPath(std::string_view path) {
  if (path.size() < 4 || path[0] != '/') return false;
  size_t slash = path.find('/', 1);
  if (slash == std::string_view::npos) return false;
  std::string_view service = path.substr(1, slash - 1);
  std::string_view method = path.substr(slash + 1);
  auto is_ident = [](std::string_view s) {
    if (s.empty() || !IsIdentStart(s[0])) return false;
    for (char c : s) {
      if (!IsIdentChar(c)) return false;
    }
    return true;
  };
  if (!is_ident(method)) return false;
  size_t start = 0;
  for (;;) {
    size_t dot = service.find('.', start);
    if (!is_ident(service.substr(start, dot == std::string_view::npos ? dot : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

absl::Status ValidateEndpoint(const Endpoint& endpoint, std::string_view field) {
  switch (endpoint.target_case()) {
    case Endpoint::kGrpc: {
      const auto& grpc = endpoint.grpc();
      if (grpc.target().empty()) {
        return Invalid(saga::StrCat(field, ".grpc.target"),
                       "the participant's address is required, e.g. \"127.0.0.1:7001\"");
      }
      if (grpc.target().size() > 512 || grpc.target().find_first_of(" \t\r\n") != std::string::npos) {
        return Invalid(saga::StrCat(field, ".grpc.target"),
                       "must be a gRPC target without spaces, at most 512 characters");
      }
      if (!IsGrpcMethodPath(grpc.method())) {
        return Invalid(saga::StrCat(field, ".grpc.method"),
                       saga::StrCat("\"", grpc.method(),
                                    "\" is not a gRPC method path; expected "
                                    "\"/package.Service/Method\""));
      }
      return absl::OkStatus();
    }
    case Endpoint::kKafka: {
      SAGA_RETURN_IF_ERROR(outbox::ValidateTopicName(endpoint.kafka().command_topic(),
                                                     saga::StrCat(field, ".kafka.command_topic")));
      return outbox::ValidateTopicName(endpoint.kafka().reply_topic(),
                                       saga::StrCat(field, ".kafka.reply_topic"));
    }
    case Endpoint::TARGET_NOT_SET:
      break;
  }
  return Invalid(field, "set either grpc (a participant's \"/package.Service/Method\") or kafka "
                        "(a command topic and a reply topic)");
}

absl::Status ValidateDuration(const google::protobuf::Duration& d, std::string_view field,
                              bool allow_zero) {
  bool same_sign = (d.seconds() >= 0 && d.nanos() >= 0) || (d.seconds() <= 0 && d.nanos() <= 0);
  if (!same_sign || d.nanos() <= -1000000000 || d.nanos() >= 1000000000) {
    return Invalid(field, "is not a valid duration (seconds and nanos must agree in sign, "
                          "|nanos| < 1e9)");
  }
  if (d.seconds() < 0 || d.nanos() < 0) {
    return Invalid(field, saga::StrCat("must not be negative, got ", d.seconds(), "s ", d.nanos(),
                                       "ns"));
  }
  if (!allow_zero && d.seconds() == 0 && d.nanos() == 0) {
    return Invalid(field, "must be positive when set");
  }
  if (d.seconds() > kMaxDurationSeconds) {
    return Invalid(field, saga::StrCat("must be at most ", kMaxDurationSeconds, "s (7 days)"));
  }
  return absl::OkStatus();
}

int64_t Nanos(const google::protobuf::Duration& d) {
  return d.seconds() * 1000000000LL + d.nanos();
}

absl::Status ValidateRetryPolicy(const RetryPolicy& policy, std::string_view field) {
  if (policy.has_initial_backoff()) {
    SAGA_RETURN_IF_ERROR(ValidateDuration(policy.initial_backoff(),
                                          saga::StrCat(field, ".initial_backoff"), true));
  }
  if (policy.has_max_backoff()) {
    SAGA_RETURN_IF_ERROR(
        ValidateDuration(policy.max_backoff(), saga::StrCat(field, ".max_backoff"), false));
  }
  if (policy.has_initial_backoff() && policy.has_max_backoff() &&
      Nanos(policy.max_backoff()) < Nanos(policy.initial_backoff())) {
    return Invalid(saga::StrCat(field, ".max_backoff"), "must not be below initial_backoff");
  }
  double multiplier = policy.backoff_multiplier();
  if (!std::isfinite(multiplier) || (multiplier != 0 && (multiplier < 1 || multiplier > 100))) {
    return Invalid(saga::StrCat(field, ".backoff_multiplier"),
                   "must be 0 (the default, 2) or from 1 to 100");
  }
  double jitter = policy.jitter();
  if (!std::isfinite(jitter) || jitter < 0 || jitter > 1) {
    return Invalid(saga::StrCat(field, ".jitter"), "must be from 0 to 1");
  }
  if (policy.max_attempts() > 10000) {
    return Invalid(saga::StrCat(field, ".max_attempts"), "must be at most 10000");
  }
  return absl::OkStatus();
}

bool IsKnownKind(StepKind kind) {
  return kind == saga::v1::STEP_KIND_UNSPECIFIED || kind == saga::v1::STEP_KIND_COMPENSATABLE ||
         kind == saga::v1::STEP_KIND_PIVOT || kind == saga::v1::STEP_KIND_RETRIABLE ||
         kind == saga::v1::STEP_KIND_TCC;
}

// Steps undone when the saga fails before its pivot (a TCC step by its Cancel).
bool IsCompensatable(StepKind kind) {
  return kind == saga::v1::STEP_KIND_UNSPECIFIED || kind == saga::v1::STEP_KIND_COMPENSATABLE ||
         kind == saga::v1::STEP_KIND_TCC;
}

absl::Status ValidateStep(const Step& step, std::string_view field) {
  SAGA_RETURN_IF_ERROR(ValidateLowerName(step.name(), saga::StrCat(field, ".name"), 64, "_-"));
  if (!IsKnownKind(step.kind())) {
    return Invalid(saga::StrCat(field, ".kind"),
                   saga::StrCat("unknown step kind ", static_cast<int>(step.kind()),
                                "; use STEP_KIND_COMPENSATABLE, STEP_KIND_PIVOT, "
                                "STEP_KIND_RETRIABLE or STEP_KIND_TCC"));
  }
  if (step.kind() == saga::v1::STEP_KIND_TCC) {
    if (!step.has_compensation()) {
      return Invalid(saga::StrCat(field, ".compensation"),
                     "is required on a TCC step: it is the Cancel of the reservation");
    }
    if (!step.has_confirm()) {
      return Invalid(saga::StrCat(field, ".confirm"),
                     "is required on a TCC step: it runs once every step succeeded");
    }
    SAGA_RETURN_IF_ERROR(ValidateEndpoint(step.confirm(), saga::StrCat(field, ".confirm")));
  } else if (step.has_confirm()) {
    return Invalid(saga::StrCat(field, ".confirm"),
                   "only TCC steps are confirmed; set kind STEP_KIND_TCC or remove the confirm");
  }
  if (!step.has_action()) return Invalid(saga::StrCat(field, ".action"), "is required");
  SAGA_RETURN_IF_ERROR(ValidateEndpoint(step.action(), saga::StrCat(field, ".action")));
  if (step.has_compensation()) {
    if (step.kind() == saga::v1::STEP_KIND_RETRIABLE) {
      return Invalid(saga::StrCat(field, ".compensation"),
                     "a retriable step is never compensated; remove the compensation or make "
                     "the step compensatable");
    }
    SAGA_RETURN_IF_ERROR(
        ValidateEndpoint(step.compensation(), saga::StrCat(field, ".compensation")));
  }
  if (step.has_status()) {
    SAGA_RETURN_IF_ERROR(ValidateEndpoint(step.status(), saga::StrCat(field, ".status")));
  }
  if (step.has_retry_policy()) {
    SAGA_RETURN_IF_ERROR(
        ValidateRetryPolicy(step.retry_policy(), saga::StrCat(field, ".retry_policy")));
  }
  if (step.has_timeout()) {
    SAGA_RETURN_IF_ERROR(ValidateDuration(step.timeout(), saga::StrCat(field, ".timeout"), false));
  }
  return absl::OkStatus();
}

// The dependency graph by step index, once names are known to be unique and to exist.
struct Graph {
  std::vector<std::vector<int>> deps;  // deps[i]: the steps step i depends on
};

// Finds a cycle; returns its step indexes in order (first == last), or empty.
std::vector<int> FindCycle(const Graph& graph) {
  const int n = static_cast<int>(graph.deps.size());
  std::vector<int> color(n, 0);  // 0 unvisited, 1 on the stack, 2 done
  std::vector<int> stack;
  std::vector<int> cycle;
  // Recursive depth-first search: definitions have at most kMaxSteps steps.
  std::function<bool(int)> visit = [&](int v) {
    color[v] = 1;
    stack.push_back(v);
    for (int w : graph.deps[v]) {
      if (color[w] == 1) {
        auto it = std::find(stack.begin(), stack.end(), w);
        cycle.assign(it, stack.end());
        cycle.push_back(w);
        return true;
      }
      if (color[w] == 0 && visit(w)) return true;
    }
    stack.pop_back();
    color[v] = 2;
    return false;
  };
  for (int v = 0; v < n; ++v) {
    if (color[v] == 0 && visit(v)) return cycle;
  }
  return {};
}

// ancestors[i][j]: step i depends, directly or not, on step j. The graph is acyclic.
std::vector<std::vector<bool>> Ancestors(const Graph& graph) {
  const int n = static_cast<int>(graph.deps.size());
  std::vector<std::vector<bool>> reach(n, std::vector<bool>(n, false));
  std::vector<int> done(n, 0);
  std::function<void(int)> fill = [&](int v) {
    if (done[v]) return;
    done[v] = 1;
    for (int w : graph.deps[v]) {
      fill(w);
      reach[v][w] = true;
      for (int k = 0; k < n; ++k) reach[v][k] = reach[v][k] || reach[w][k];
    }
  };
  for (int v = 0; v < n; ++v) fill(v);
  return reach;
}

}  // namespace

absl::Status ValidateDefinitionName(std::string_view name, std::string_view field) {
  return ValidateLowerName(name, field, 128, "_.-");
}

absl::Status ValidateDefinition(const SagaDefinition& definition) {
  SAGA_RETURN_IF_ERROR(ValidateDefinitionName(definition.name(), "definition.name"));
  if (definition.description().size() > kMaxDescriptionBytes) {
    return Invalid("definition.description",
                   saga::StrCat("at most ", kMaxDescriptionBytes, " bytes"));
  }
  if (definition.steps().empty()) return Invalid("definition.steps", "at least one step is required");
  if (definition.steps_size() > kMaxSteps) {
    return Invalid("definition.steps", saga::StrCat("at most ", kMaxSteps, " steps, got ",
                                                    definition.steps_size()));
  }
  if (definition.has_deadline()) {
    SAGA_RETURN_IF_ERROR(ValidateDuration(definition.deadline(), "definition.deadline", false));
  }
  if (definition.has_default_retry_policy()) {
    SAGA_RETURN_IF_ERROR(
        ValidateRetryPolicy(definition.default_retry_policy(), "definition.default_retry_policy"));
  }
  if (definition.has_default_step_timeout()) {
    SAGA_RETURN_IF_ERROR(ValidateDuration(definition.default_step_timeout(),
                                          "definition.default_step_timeout", false));
  }

  absl::flat_hash_map<std::string, int> index;
  int pivot = -1;
  for (int i = 0; i < definition.steps_size(); ++i) {
    const Step& step = definition.steps(i);
    std::string field = saga::StrCat("definition.steps[", i, "]");
    SAGA_RETURN_IF_ERROR(ValidateStep(step, field));
    auto [it, inserted] = index.emplace(step.name(), i);
    if (!inserted) {
      return Invalid(saga::StrCat(field, ".name"),
                     saga::StrCat("\"", step.name(), "\" is used by steps[", it->second,
                                  "] too; step names must be unique"));
    }
    if (step.kind() == saga::v1::STEP_KIND_PIVOT) {
      if (pivot >= 0) {
        return Invalid(saga::StrCat(field, ".kind"),
                       saga::StrCat("steps[", pivot, "] is the pivot already; a saga has at "
                                    "most one pivot"));
      }
      pivot = i;
    }
  }

  Graph graph;
  graph.deps.resize(definition.steps_size());
  for (int i = 0; i < definition.steps_size(); ++i) {
    const Step& step = definition.steps(i);
    for (int d = 0; d < step.depends_on_size(); ++d) {
      const std::string& dep = step.depends_on(d);
      std::string field = saga::StrCat("definition.steps[", i, "].depends_on[", d, "]");
      auto it = index.find(dep);
      if (it == index.end()) {
        return Invalid(field, saga::StrCat("no step is named \"", dep, "\""));
      }
      if (it->second == i) return Invalid(field, "a step cannot depend on itself");
      if (std::find(graph.deps[i].begin(), graph.deps[i].end(), it->second) !=
          graph.deps[i].end()) {
        return Invalid(field, saga::StrCat("\"", dep, "\" is listed twice"));
      }
      graph.deps[i].push_back(it->second);
    }
  }
  if (std::vector<int> cycle = FindCycle(graph); !cycle.empty()) {
    std::vector<std::string> names;
    for (int v : cycle) names.push_back(definition.steps(v).name());
    return Invalid("definition.steps",
                   saga::StrCat("the dependencies form a cycle (read -> as \"depends on\"): ",
                                absl::StrJoin(names, " -> "),
                                "; dependencies must form an acyclic graph"));
  }

  std::vector<std::vector<bool>> ancestors = Ancestors(graph);
  for (int i = 0; i < definition.steps_size(); ++i) {
    const Step& step = definition.steps(i);
    std::string field = saga::StrCat("definition.steps[", i, "].depends_on");
    for (int j = 0; j < definition.steps_size(); ++j) {
      if (i == j) continue;
      const StepKind other = definition.steps(j).kind();
      if (step.kind() == saga::v1::STEP_KIND_PIVOT && IsCompensatable(other) && !ancestors[i][j]) {
        return Invalid(field, saga::StrCat("the pivot must run after every compensatable step, "
                                           "but it does not depend on \"",
                                           definition.steps(j).name(), "\""));
      }
      if (step.kind() == saga::v1::STEP_KIND_RETRIABLE && other != saga::v1::STEP_KIND_RETRIABLE &&
          !ancestors[i][j]) {
        return Invalid(field, saga::StrCat("a retriable step must run after every compensatable "
                                           "and pivot step, but it does not depend on \"",
                                           definition.steps(j).name(), "\""));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace saga::coordinator
