// SagaMetrics counts what the engine does, by definition, for /metrics (Prometheus text format):
// sagas started and ended by state, step retries, compensations run, and participant call
// durations as histograms by definition and operation. The engine feeds it the events of each
// committed transition and the duration of each call. Thread-safe.
#ifndef SAGA_COORDINATOR_SAGA_METRICS_H_
#define SAGA_COORDINATOR_SAGA_METRICS_H_

#include <array>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "saga/v1/saga.pb.h"

namespace saga::coordinator {

class SagaMetrics {
 public:
  // Upper bounds of the call-duration buckets, in seconds.
  static constexpr std::array<double, 12> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,   0.25,   0.5,   1,    2.5,   10};

  // The events of one saga's committed transition.
  void OnCommitted(const std::string& definition, const std::vector<saga::v1::SagaEvent>& events);
  // One participant call of `operation` ("action", "compensation", ...) answered after `took`.
  void OnCall(const std::string& definition, const std::string& operation, absl::Duration took,
              const absl::Status& status);

  // The metrics, each with its # HELP and # TYPE lines.
  std::string Text() const;

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> counts{};  // not cumulative; summed when written
    uint64_t count = 0;
    double sum = 0;
  };

  mutable absl::Mutex mu_;
  std::map<std::string, uint64_t> started_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, uint64_t> ended_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> retries_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> compensations_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, uint64_t> call_failures_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, Histogram> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace saga::coordinator

#endif  // SAGA_COORDINATOR_SAGA_METRICS_H_
