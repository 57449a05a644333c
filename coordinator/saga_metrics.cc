#include "coordinator/saga_metrics.h"

#include "sdk/base/strings.h"

namespace saga::coordinator {
namespace {

using saga::v1::SagaEvent;

// A label value escaped for the text format.
std::string Escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string Header(const char* name, const char* type, const char* help) {
  return saga::StrCat("# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

}  // namespace

void SagaMetrics::OnCommitted(const std::string& definition,
                              const std::vector<saga::v1::SagaEvent>& events) {
  absl::MutexLock lock(&mu_);
  for (const SagaEvent& e : events) {
    switch (e.type()) {
      case SagaEvent::TYPE_SAGA_STARTED:
        ++started_[definition];
        break;
      case SagaEvent::TYPE_SAGA_COMPLETED:
        ++ended_[{definition, "completed"}];
        break;
      case SagaEvent::TYPE_SAGA_COMPENSATED:
        ++ended_[{definition, "compensated"}];
        break;
      case SagaEvent::TYPE_SAGA_QUARANTINED:
        ++ended_[{definition, "quarantined"}];
        break;
      case SagaEvent::TYPE_STEP_RETRY_SCHEDULED:
        ++retries_[definition];
        break;
      case SagaEvent::TYPE_COMPENSATION_STARTED:
        ++compensations_[definition];
        break;
      default:
        break;
    }
  }
}

void SagaMetrics::OnCall(const std::string& definition, const std::string& operation,
                         absl::Duration took, const absl::Status& status) {
  const double seconds = absl::ToDoubleSeconds(took);
  absl::MutexLock lock(&mu_);
  Histogram& h = calls_[{definition, operation}];
  size_t bucket = 0;
  while (bucket < kBuckets.size() && seconds > kBuckets[bucket]) ++bucket;
  if (bucket < kBuckets.size()) ++h.counts[bucket];
  ++h.count;
  h.sum += seconds;
  if (!status.ok()) ++call_failures_[{definition, operation}];
}

std::string SagaMetrics::Text() const {
  absl::MutexLock lock(&mu_);
  std::string out = Header("sagad_sagas_started_total", "counter",
                           "Sagas started by this instance, by definition.");
  for (const auto& [def, n] : started_) {
    saga::StrAppend(&out, "sagad_sagas_started_total{definition=\"", Escape(def), "\"} ", n, "\n");
  }
  out += Header("sagad_sagas_ended_total", "counter",
                "Sagas that ended here, by definition and state (completed, compensated, "
                "quarantined).");
  for (const auto& [key, n] : ended_) {
    saga::StrAppend(&out, "sagad_sagas_ended_total{definition=\"", Escape(key.first),
                    "\",state=\"", key.second, "\"} ", n, "\n");
  }
  out += Header("sagad_step_retries_total", "counter", "Step retries scheduled, by definition.");
  for (const auto& [def, n] : retries_) {
    saga::StrAppend(&out, "sagad_step_retries_total{definition=\"", Escape(def), "\"} ", n, "\n");
  }
  out += Header("sagad_compensations_total", "counter",
                "Compensation calls started, by definition.");
  for (const auto& [def, n] : compensations_) {
    saga::StrAppend(&out, "sagad_compensations_total{definition=\"", Escape(def), "\"} ", n,
                    "\n");
  }
  out += Header("sagad_participant_call_failures_total", "counter",
                "Participant calls answered with an error or a timeout, by definition and "
                "operation.");
  for (const auto& [key, n] : call_failures_) {
    saga::StrAppend(&out, "sagad_participant_call_failures_total{definition=\"",
                    Escape(key.first), "\",operation=\"", key.second, "\"} ", n, "\n");
  }
  out += Header("sagad_participant_call_seconds", "histogram",
                "Participant call durations, from sending to the answer, by definition and "
                "operation.");
  for (const auto& [key, h] : calls_) {
    const std::string labels =
        saga::StrCat("definition=\"", Escape(key.first), "\",operation=\"", key.second, "\"");
    uint64_t cumulative = 0;
    for (size_t b = 0; b < kBuckets.size(); ++b) {
      cumulative += h.counts[b];
      saga::StrAppend(&out, "sagad_participant_call_seconds_bucket{", labels, ",le=\"",
                      kBuckets[b], "\"} ", cumulative, "\n");
    }
    saga::StrAppend(&out, "sagad_participant_call_seconds_bucket{", labels, ",le=\"+Inf\"} ",
                    h.count, "\n", "sagad_participant_call_seconds_sum{", labels, "} ", h.sum,
                    "\n", "sagad_participant_call_seconds_count{", labels, "} ", h.count, "\n");
  }
  return out;
}

}  // namespace saga::coordinator
