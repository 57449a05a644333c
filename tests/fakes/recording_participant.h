// RecordingParticipant is a saga participant for tests: a real gRPC server on a loopback port
// that answers every method (it needs no proto: it is a generic service) and records what it
// applies, the way a participant built on the barrier would:
//   - an action or compensation is applied at most once per idempotency key;
//   - a compensation whose action never ran applies nothing and blocks that action for good;
//   - an action that arrives after its compensation applies nothing.
// Tests script its answers per method (fail N times, refuse, hang past the deadline) and then
// check the effect log against invariant 1 of DESIGN.md with CheckSagaEffects.
// Thread-safe.
#ifndef SAGA_TESTS_FAKES_RECORDING_PARTICIPANT_H_
#define SAGA_TESTS_FAKES_RECORDING_PARTICIPANT_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "saga/v1/definition.pb.h"
#include "saga/v1/saga.pb.h"

namespace saga::testing {

// One call as the participant saw it.
struct ParticipantCall {
  std::string method;
  std::string saga_id;
  std::string step;
  std::string operation;  // action | compensation | status
  std::string idempotency_key;
  std::string lease_epoch;
  std::string traceparent;
  std::string payload;
};

// What the participant does with one call: answer `status`, after `delay` (a delay past the
// caller's deadline makes a timeout). `apply` false answers without applying anything.
struct Reply {
  absl::Status status;
  absl::Duration delay = absl::ZeroDuration();
  bool apply = true;
};

class RecordingParticipant {
 public:
  using Script = std::function<Reply(const ParticipantCall& call, int call_number)>;

  // Serves on 127.0.0.1 at a free port.
  RecordingParticipant();
  ~RecordingParticipant();

  std::string target() const;

  // How to answer calls of `method` ("/pkg.Svc/M"); unscripted methods succeed. `call_number`
  // counts this method's calls for one saga and operation, from 1.
  void SetScript(const std::string& method, Script script);

  // Every call received, in order.
  std::vector<ParticipantCall> calls();

  // Answers scripted with a delay that are still waiting.
  size_t delayed_answers();

  // Effects applied: for each (saga id, step), how many times its action and its
  // compensation took effect, and whether a compensation found no action to undo.
  struct Effects {
    int actions = 0;
    int compensations = 0;
    bool compensation_before_action = false;
  };
  std::map<std::pair<std::string, std::string>, Effects> effects();
  // The effects of one step of one saga (none when it never applied anything), without copying
  // the whole log: checkers call it for every step of tens of thousands of sagas.
  Effects EffectsOf(const std::string& saga_id, const std::string& step);

 private:
  class Reactor;
  class Service;
  void Handle(Reactor* reactor, ParticipantCall call);
  void RunDelays();

  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  absl::Mutex mu_;
  std::map<std::string, Script> scripts_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> call_counts_ ABSL_GUARDED_BY(mu_);
  std::vector<ParticipantCall> calls_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> applied_keys_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, Effects> effects_ ABSL_GUARDED_BY(mu_);
  std::multimap<absl::Time, std::function<void()>> delayed_ ABSL_GUARDED_BY(mu_);
  int answering_ ABSL_GUARDED_BY(mu_) = 0;  // delayed answers being given now
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread delay_thread_;
};

// The order saga the crash and fault tests run against `target`: reserve -> charge -> ship, each
// compensated by /shop.S/undo_<step>, retried from 20 ms to 200 ms, with a 2 s step timeout.
saga::v1::SagaDefinition OrderDefinition(const std::string& target);

// Invariant 1 of DESIGN.md for one ended saga, on `participant`'s effect log: COMPLETED means
// each action took effect exactly once and nothing was compensated; COMPENSATED means each
// action that took effect was compensated exactly once. Returns the violations, empty if none.
std::vector<std::string> InvariantOneViolations(const saga::v1::Saga& saga,
                                                RecordingParticipant& participant);

}  // namespace saga::testing

#endif  // SAGA_TESTS_FAKES_RECORDING_PARTICIPANT_H_
