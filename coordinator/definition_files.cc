#include "coordinator/definition_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include "sdk/base/strings.h"

namespace saga::coordinator {
namespace {

// Collects the first parse error with its position.
class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (error.empty()) error = saga::StrCat("line ", line + 1, ", column ", column + 1, ": ", message);
  }
  std::string error;
};

}  // namespace

absl::StatusOr<std::vector<std::pair<std::string, saga::v1::SagaDefinition>>>
ReadDefinitionDirectory(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(saga::StrCat("definitions directory ", dir,
                                            " does not exist or is not a directory"));
  }
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".textproto" || ext == ".txtpb" || ext == ".pbtxt")) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<std::pair<std::string, saga::v1::SagaDefinition>> out;
  for (const std::string& path : files) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    google::protobuf::TextFormat::Parser parser;
    FirstError errors;
    parser.RecordErrorsTo(&errors);
    saga::v1::SagaDefinition definition;
    if (!in.good() && !in.eof()) {
      return absl::InvalidArgumentError(saga::StrCat(path, ": cannot be read"));
    }
    if (!parser.ParseFromString(text.str(), &definition)) {
      return absl::InvalidArgumentError(saga::StrCat(path, ": ", errors.error));
    }
    out.emplace_back(path, std::move(definition));
  }
  return out;
}

}  // namespace saga::coordinator
