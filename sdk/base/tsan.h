// ThreadSanitizer annotations for hand-offs that happen inside an uninstrumented library.
// Debian's gRPC is not built with ThreadSanitizer: when a callback reactor hands its buffers to
// gRPC on one thread and gRPC calls OnDone on another, the ordering between the two is made by
// gRPC's own atomics, which the sanitizer cannot see. These calls state that ordering where the
// gRPC API guarantees it; in every other build they compile to nothing.
//
//   TsanRelease(this); StartWrite(&response_);     // what this thread wrote before the call...
//   void OnDone() override { TsanAcquire(this); delete this; }   // ...happens before OnDone
//
// TsanIgnoreAccesses hides the accesses of one scope: only around a call into gRPC's callback
// API, whose inline code touches gRPC's objects that its uninstrumented core then hands on.
// gRPC may run a callback inline, inside that scope: a callback opens a TsanHeedAccesses,
// which checks its accesses again until it ends.
#ifndef SAGA_SDK_BASE_TSAN_H_
#define SAGA_SDK_BASE_TSAN_H_

#if defined(__SANITIZE_THREAD__)
#define SAGA_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SAGA_TSAN 1
#endif
#endif

#ifdef SAGA_TSAN
extern "C" {
void __tsan_acquire(void* addr);
void __tsan_release(void* addr);
void __tsan_ignore_thread_begin();
void __tsan_ignore_thread_end();
}
#endif

namespace saga {

#ifdef SAGA_TSAN
inline void TsanRelease(void* addr) { __tsan_release(addr); }
inline void TsanAcquire(void* addr) { __tsan_acquire(addr); }
inline thread_local int tsan_ignore_depth = 0;
class TsanIgnoreAccesses {
 public:
  TsanIgnoreAccesses() {
    ++tsan_ignore_depth;
    __tsan_ignore_thread_begin();
  }
  ~TsanIgnoreAccesses() {
    __tsan_ignore_thread_end();
    --tsan_ignore_depth;
  }
  TsanIgnoreAccesses(const TsanIgnoreAccesses&) = delete;
  TsanIgnoreAccesses& operator=(const TsanIgnoreAccesses&) = delete;
};
class TsanHeedAccesses {
 public:
  TsanHeedAccesses() : depth_(tsan_ignore_depth) {
    for (int i = 0; i < depth_; ++i) __tsan_ignore_thread_end();
    tsan_ignore_depth = 0;
  }
  ~TsanHeedAccesses() {
    for (int i = 0; i < depth_; ++i) __tsan_ignore_thread_begin();
    tsan_ignore_depth = depth_;
  }
  TsanHeedAccesses(const TsanHeedAccesses&) = delete;
  TsanHeedAccesses& operator=(const TsanHeedAccesses&) = delete;

 private:
  int depth_;
};
#else
inline void TsanRelease(void*) {}
inline void TsanAcquire(void*) {}
class TsanIgnoreAccesses {
 public:
  TsanIgnoreAccesses() {}
  TsanIgnoreAccesses(const TsanIgnoreAccesses&) = delete;
  TsanIgnoreAccesses& operator=(const TsanIgnoreAccesses&) = delete;
};
class TsanHeedAccesses {
 public:
  TsanHeedAccesses() {}
  TsanHeedAccesses(const TsanHeedAccesses&) = delete;
  TsanHeedAccesses& operator=(const TsanHeedAccesses&) = delete;
};
#endif

}  // namespace saga

#endif  // SAGA_SDK_BASE_TSAN_H_
