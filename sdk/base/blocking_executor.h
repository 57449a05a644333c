// BlockingExecutor runs blocking work (database transactions) on threads the application owns,
// so that gRPC reactions never block. A fixed number of threads take closures from one queue.
//
// Thread-safe. Shutdown (or the destructor) stops taking new work, runs what is queued, and
// joins the threads. Schedule after shutdown returns false and drops the closure, so the caller
// can answer UNAVAILABLE.
#ifndef SAGA_SDK_BASE_BLOCKING_EXECUTOR_H_
#define SAGA_SDK_BASE_BLOCKING_EXECUTOR_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace saga {

class BlockingExecutor {
 public:
  explicit BlockingExecutor(int threads);
  ~BlockingExecutor();

  BlockingExecutor(const BlockingExecutor&) = delete;
  BlockingExecutor& operator=(const BlockingExecutor&) = delete;

  // Queues `work`. Returns false, without running it, once Shutdown has begun.
  bool Schedule(std::function<void()> work);

  // Stops taking work, drains the queue and joins the threads. Idempotent.
  void Shutdown();

 private:
  void RunWorker();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace saga

#endif  // SAGA_SDK_BASE_BLOCKING_EXECUTOR_H_
