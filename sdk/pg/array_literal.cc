#include "sdk/pg/array_literal.h"

namespace saga::pg {

void ArrayLiteral::Separator() {
  if (count_++ > 0) text_ += ',';
}

ArrayLiteral& ArrayLiteral::AddText(std::string_view value) {
  Separator();
  text_ += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') text_ += '\\';
    text_ += c;
  }
  text_ += '"';
  return *this;
}

ArrayLiteral& ArrayLiteral::AddBytea(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  Separator();
  text_ += "\"\\\\x";  // "\\x..." : the element \x... with its backslash escaped
  for (unsigned char c : bytes) {
    text_ += kHex[c >> 4];
    text_ += kHex[c & 15];
  }
  text_ += '"';
  return *this;
}

ArrayLiteral& ArrayLiteral::AddInt(int64_t value) {
  Separator();
  text_ += std::to_string(value);
  return *this;
}

ArrayLiteral& ArrayLiteral::AddNull() {
  Separator();
  text_ += "NULL";
  return *this;
}

}  // namespace saga::pg
