// MessageProducer sends outbox rows to the broker and reports, for each, whether the broker
// persisted it. outbox/kafka/kafka_producer.h implements it with librdkafka's idempotent
// producer; tests use fakes. Used by one relay thread at a time.
#ifndef SAGA_OUTBOX_MESSAGE_PRODUCER_H_
#define SAGA_OUTBOX_MESSAGE_PRODUCER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "outbox/outbox_source.h"

namespace saga::outbox {

struct Delivery {
  enum class Outcome {
    kPersisted,    // the broker acknowledged it durably (acks=all)
    kRejected,     // the broker or the client refused this message: counts as an attempt
    kUnavailable,  // no answer in time, the broker is down: the message may be sent again
    kNotSent,      // held back behind an earlier message of its key that was not sent
  };
  Outcome outcome = Outcome::kNotSent;
  std::string error;
};

class MessageProducer {
 public:
  virtual ~MessageProducer() = default;

  // Starts sending `rows` in order (rows of one key keep their order). The rows need to live
  // only during the call. One batch at a time: Wait before the next Begin.
  virtual void Begin(const std::vector<const OutboxRow*>& rows) = 0;

  // Waits for every delivery report of the batch begun last. Returns one Delivery per row,
  // in the order given to Begin.
  virtual std::vector<Delivery> Wait() = 0;

  std::vector<Delivery> Send(const std::vector<const OutboxRow*>& rows) {
    Begin(rows);
    return Wait();
  }

  // The largest message `topic` accepts (its max.message.bytes), to refuse a row before it is
  // sent, so that a poison row never lets later rows of its key overtake it.
  virtual absl::StatusOr<size_t> MaxMessageBytes(const std::string& topic) = 0;

  // Asks the broker again next time: a row was refused by the limit, and an operator may have
  // raised it before requeueing the row.
  virtual void ForgetMaxMessageBytes(const std::string& topic) = 0;

  // The bytes a row takes in a Kafka record batch of its own, to compare with the limit.
  static size_t RecordBytes(const OutboxRow& row);
};

}  // namespace saga::outbox

#endif  // SAGA_OUTBOX_MESSAGE_PRODUCER_H_
