// ConsoleWorld: what the HTTP API and web console tests look at: the sagad binary with
// authentication on (an admin, a viewer and a client token), its HTTP endpoint, a real
// PostgreSQL, a loopback participant recording its effects, the order definition
// (reserve -> charge -> ship, tests/fakes) and a checkout definition with parallel branches and
// a pivot ({reserve, fraud_check} -> charge (pivot) -> {ship, notify}), and real orders in every
// ending: completed ones, compensated ones (shipping refused) and quarantined ones (their refund
// fails until Fix()); ParkMessage() adds a parked row to sagad's outbox.
#ifndef SAGA_TESTS_WEB_CONSOLE_WORLD_H_
#define SAGA_TESTS_WEB_CONSOLE_WORLD_H_

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "saga/v1/admin_service.grpc.pb.h"
#include "saga/v1/saga_service.grpc.pb.h"
#include "tests/fakes/recording_participant.h"
#include "tests/harness/sagad_process.h"

namespace saga::testing {

inline constexpr char kAdminToken[] = "admin-token-4f1e9b2c7a83";
inline constexpr char kViewerToken[] = "viewer-token-0c6d2e8f5b19";
inline constexpr char kClientToken[] = "client-token-9a7b3c5d1e20";

class ConsoleWorld {
 public:
  // Starts everything and runs `completed` completing, `compensated` compensating and
  // `quarantined` QUARANTINED sagas.
  absl::Status Start(int completed, int compensated, int quarantined = 1);
  ~ConsoleWorld();

  // The refund works from now on (a replay of the quarantined saga can succeed).
  void Fix() { fixed_ = true; }

  std::string http_base() const;  // "http://127.0.0.1:<port>"
  const std::string& quarantined_id() const { return quarantined_ids_.front(); }
  const std::vector<std::string>& quarantined_ids() const { return quarantined_ids_; }

  // Inserts a row parked after 5 rejections into sagad's outbox, with that message id, as the
  // relay leaves a message the broker refused (too large, say).
  absl::Status ParkMessage(const std::string& message_id);
  const std::string& completed_id() const { return completed_id_; }
  SagadProcess& sagad() { return *sagad_; }
  RecordingParticipant& participant() { return participant_; }
  saga::v1::SagaService::Stub& sagas() { return *sagas_; }
  saga::v1::AdminService::Stub& admin() { return *admin_; }

  // A context for sagad carrying `token`.
  static std::unique_ptr<grpc::ClientContext> With(const std::string& token);

  // Every saga by state, counted through SagaService.ListSagas page by page.
  absl::StatusOr<std::map<saga::v1::SagaState, int>> CountByListing();

  // The saga `id` once it is in `state` (or its last state after 20 s).
  saga::v1::Saga WaitForState(const std::string& id, saga::v1::SagaState state);

 private:
  absl::StatusOr<saga::v1::Saga> StartOrder(const std::string& ship_payload);

  std::filesystem::path dir_;
  std::atomic<bool> fixed_{false};
  RecordingParticipant participant_;
  std::unique_ptr<SagadProcess> sagad_;
  std::unique_ptr<saga::v1::SagaService::Stub> sagas_;
  std::unique_ptr<saga::v1::AdminService::Stub> admin_;
  std::string dsn_;
  std::vector<std::string> quarantined_ids_;
  std::string completed_id_;  // the first completed saga
};

}  // namespace saga::testing

#endif  // SAGA_TESTS_WEB_CONSOLE_WORLD_H_
