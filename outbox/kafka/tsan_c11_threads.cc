// Only in the ThreadSanitizer build (CMakeLists.txt links it into every binary there).
//
// librdkafka starts its threads with C11 thrd_create, which glibc implements by calling its
// own pthread_create internally, past ThreadSanitizer's interceptor: the runtime never learns of
// those threads and crashes in their first malloc (seen: SIGSEGV in the allocator cache of an
// rdk:broker thread). These definitions take precedence over glibc's for every library of the
// process, and create and join the threads through the intercepted pthread functions. glibc's
// thrd_t is a pthread_t and a thread's int result travels as a pointer, as here.
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <threads.h>

namespace {

struct Start {
  thrd_start_t func;
  void* arg;
};

void* RunC11Thread(void* p) {
  Start start = *static_cast<Start*>(p);
  delete static_cast<Start*>(p);
  return reinterpret_cast<void*>(static_cast<intptr_t>(start.func(start.arg)));
}

}  // namespace

extern "C" int thrd_create(thrd_t* thread, thrd_start_t func, void* arg) {
  auto* start = new Start{func, arg};
  pthread_t id;
  const int error = pthread_create(&id, nullptr, RunC11Thread, start);
  if (error != 0) {
    delete start;
    return error == ENOMEM ? thrd_nomem : thrd_error;
  }
  *thread = id;
  return thrd_success;
}

extern "C" int thrd_join(thrd_t thread, int* result) {
  void* value = nullptr;
  if (pthread_join(thread, &value) != 0) return thrd_error;
  if (result != nullptr) *result = static_cast<int>(reinterpret_cast<intptr_t>(value));
  return thrd_success;
}
