// W3C Trace Context (https://www.w3.org/TR/trace-context/): the traceparent header that sagad
// takes from an incoming call and passes on to participants (gRPC metadata) and into Kafka
// headers, so one trace covers a saga, a TCC transaction or a published message. Thread-safe.
#ifndef SAGA_SDK_BASE_TRACEPARENT_H_
#define SAGA_SDK_BASE_TRACEPARENT_H_

#include <string>
#include <string_view>

namespace saga {

// A new sampled traceparent of version 00 with random trace and parent ids,
// "00-<32 hex>-<16 hex>-01".
std::string NewTraceparent();

// True when `text` is a traceparent that may be passed on: version 00 exactly as the
// specification spells it (lowercase hex, trace and parent ids not all zero), or a later
// version (not ff) that starts the same way. Anything else is dropped, as the specification asks.
bool IsValidTraceparent(std::string_view text);

}  // namespace saga

#endif  // SAGA_SDK_BASE_TRACEPARENT_H_
