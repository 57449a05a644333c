#include "sdk/base/traceparent.h"

#include <cstdint>
#include <cstdio>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"

namespace saga {
namespace {

bool LowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

}  // namespace

std::string NewTraceparent() {
  static absl::Mutex mu(absl::kConstInit);
  static absl::BitGen* gen ABSL_GUARDED_BY(mu) = new absl::BitGen();
  uint64_t a, b, c;
  {
    absl::MutexLock lock(&mu);
    a = absl::Uniform<uint64_t>(*gen);
    b = absl::Uniform<uint64_t>(*gen);
    c = absl::Uniform<uint64_t>(*gen);
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "00-%016llx%016llx-%016llx-01",
                static_cast<unsigned long long>(a), static_cast<unsigned long long>(b | 1),
                static_cast<unsigned long long>(c | 1));
  return buf;
}

bool IsValidTraceparent(std::string_view text) {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55 characters.
  if (text.size() < 55) return false;
  const std::string_view version = text.substr(0, 2), trace_id = text.substr(3, 32),
                         parent_id = text.substr(36, 16), flags = text.substr(53, 2);
  if (text[2] != '-' || text[35] != '-' || text[52] != '-') return false;
  if (!LowerHex(version) || version == "ff") return false;
  if (!LowerHex(trace_id) || AllZero(trace_id)) return false;
  if (!LowerHex(parent_id) || AllZero(parent_id)) return false;
  if (!LowerHex(flags)) return false;
  if (version == "00") return text.size() == 55;
  return text.size() == 55 || text[55] == '-';  // a later version may append fields
}

}  // namespace saga
