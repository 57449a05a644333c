#include "outbox/headers_json.h"

#include "sdk/base/strings.h"

namespace saga::outbox {
namespace {

class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\t' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Consume(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool Peek(char c) {
    SkipSpace();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ == text_.size();
  }

  // A JSON string (after its opening quote has been seen by Peek), unescaped to UTF-8.
  bool String(std::string* out) {
    if (!Consume('"')) return false;
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) return false;
      char e = text_[pos_++];
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t cp = 0;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // a surrogate pair
            uint32_t low = 0;
            if (pos_ + 1 >= text_.size() || text_[pos_] != '\\' || text_[pos_ + 1] != 'u') {
              return false;
            }
            pos_ += 2;
            if (!Hex4(&low) || low < 0xDC00 || low > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          AppendUtf8(cp, out);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

  // A number, true, false or null: its text as written.
  bool Scalar(std::string* out) {
    SkipSpace();
    size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '}' &&
           text_[pos_] != ' ' && text_[pos_] != '\n' && text_[pos_] != '\t' &&
           text_[pos_] != '\r' && text_[pos_] != '"' && text_[pos_] != '{' &&
           text_[pos_] != '[') {
      ++pos_;
    }
    *out = std::string(text_.substr(start, pos_ - start));
    return !out->empty();
  }

 private:
  bool Hex4(uint32_t* out) {
    if (pos_ + 4 > text_.size()) return false;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      int v = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (v < 0) return false;
      *out = *out * 16 + static_cast<uint32_t>(v);
    }
    return true;
  }
  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseHeadersJson(
    std::string_view json) {
  auto invalid = [&] {
    return absl::InvalidArgumentError(
        saga::StrCat("outbox headers are not a JSON object of names to strings: ",
                     json.substr(0, 200)));
  };
  std::vector<std::pair<std::string, std::string>> headers;
  Reader r(json);
  if (!r.Consume('{')) return invalid();
  if (r.Consume('}')) {
    if (!r.AtEnd()) return invalid();
    return headers;
  }
  while (true) {
    std::string name, value;
    if (!r.Peek('"') || !r.String(&name) || !r.Consume(':')) return invalid();
    if (r.Peek('"') ? !r.String(&value) : !r.Scalar(&value)) return invalid();
    headers.emplace_back(std::move(name), std::move(value));
    if (r.Consume(',')) continue;
    if (r.Consume('}')) break;
    return invalid();
  }
  if (!r.AtEnd()) return invalid();
  return headers;
}

}  // namespace saga::outbox
