// PostgreSQL array literals for passing many values as ONE statement parameter, e.g.
//   INSERT INTO t SELECT * FROM unnest($1::uuid[], $2::bytea[])
// so a batch of rows is one parameterized statement, never SQL built from values.
#ifndef SAGA_SDK_PG_ARRAY_LITERAL_H_
#define SAGA_SDK_PG_ARRAY_LITERAL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace saga::pg {

// Builds `{"a","b",NULL}` for text-like types (text, uuid, jsonb, timestamptz...).
class ArrayLiteral {
 public:
  ArrayLiteral& AddText(std::string_view value);
  ArrayLiteral& AddBytea(std::string_view bytes);  // hex format
  ArrayLiteral& AddInt(int64_t value);
  ArrayLiteral& AddNull();
  ArrayLiteral& AddOptionalText(const std::optional<std::string>& value) {
    return value ? AddText(*value) : AddNull();
  }

  // The literal, e.g. {"x","y"}.
  std::string str() const { return text_ + "}"; }
  size_t size() const { return count_; }

 private:
  void Separator();

  std::string text_ = "{";
  size_t count_ = 0;
};

}  // namespace saga::pg

#endif  // SAGA_SDK_PG_ARRAY_LITERAL_H_
