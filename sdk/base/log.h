// Structured logs: one JSON object per line on stderr, with a time, a level, a message and
// key/value fields. Thread-safe; a line is written with one write so lines never interleave.
//
//   saga::LogInfo("sagad serving", {{"grpc_addr", addr}, {"kafka", bootstrap}});
//
// Never log secrets (DSN passwords, tokens): callers redact them first (see RedactDsn).
#ifndef SAGA_SDK_BASE_LOG_H_
#define SAGA_SDK_BASE_LOG_H_

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace saga {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

using LogFields = std::vector<std::pair<std::string, std::string>>;

// Lines below this level are dropped. Default: kInfo.
void SetMinLogLevel(LogLevel level);

// Writes one line.
void Log(LogLevel level, std::string_view message, const LogFields& fields = {});

inline void LogDebug(std::string_view message, const LogFields& fields = {}) {
  Log(LogLevel::kDebug, message, fields);
}
inline void LogInfo(std::string_view message, const LogFields& fields = {}) {
  Log(LogLevel::kInfo, message, fields);
}
inline void LogWarning(std::string_view message, const LogFields& fields = {}) {
  Log(LogLevel::kWarning, message, fields);
}
inline void LogError(std::string_view message, const LogFields& fields = {}) {
  Log(LogLevel::kError, message, fields);
}

// Returns `text` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view text);

// Returns string pairs (a std::map, a protobuf Map, ...) as a JSON object with its keys sorted,
// so equal maps give equal text (labels and headers stored as jsonb).
template <typename StringMap>
std::string JsonObject(const StringMap& pairs) {
  std::map<std::string, std::string> sorted(pairs.begin(), pairs.end());
  std::string json = "{";
  for (const auto& [key, value] : sorted) {
    if (json.size() > 1) json += ',';
    json += JsonQuote(key);
    json += ':';
    json += JsonQuote(value);
  }
  return json + "}";
}

// Returns a libpq connection string or URI with its password replaced by "***".
std::string RedactDsn(std::string_view dsn);

}  // namespace saga

#endif  // SAGA_SDK_BASE_LOG_H_
