// libFuzzer target: saga definitions as users write them, through every way sagad reads one:
// text-format protobuf (--definitions files, sagactl register), the protobuf JSON mapping
// (grpcurl, the web console), binary protobuf (RegisterDefinition), and a FileDescriptorSet
// whose methods carry saga options (ImportDefinitions, --descriptor_set). Whatever parses is
// validated; a refusal must be INVALID_ARGUMENT with a message (fuzz_check.h).
//
// Seeds: tests/fuzz/corpus/definition/ (text-format definitions). Run by tests/fuzz/run.sh.
#include <cstddef>
#include <cstdint>
#include <string>

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include "coordinator/definition_validator.h"
#include "coordinator/descriptor_import.h"
#include "saga/v1/definition.pb.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

void Validate(const saga::v1::SagaDefinition& definition, const char* form) {
  saga::fuzz::ExpectClearRefusal(saga::coordinator::ValidateDefinition(definition), form);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);

  saga::v1::SagaDefinition text;
  google::protobuf::TextFormat::Parser parser;
  parser.AllowPartialMessage(true);
  if (parser.ParseFromString(input, &text)) Validate(text, "text-format definition");

  saga::v1::SagaDefinition json;
  if (google::protobuf::util::JsonStringToMessage(input, &json).ok()) {
    Validate(json, "JSON definition");
  }

  saga::v1::SagaDefinition binary;
  if (binary.ParseFromString(input)) Validate(binary, "binary definition");

  // ImportDefinitions: NOT_FOUND when no method carries a saga option.
  saga::coordinator::ImportTargets targets;
  targets.fallback = "127.0.0.1:7001";
  auto imported = saga::coordinator::DefinitionsFromDescriptorSet(input, targets);
  if (!imported.ok()) {
    saga::fuzz::ExpectClearRefusal(imported.status(), "descriptor set",
                                   {absl::StatusCode::kInvalidArgument, absl::StatusCode::kNotFound});
  } else {
    for (const auto& definition : *imported) Validate(definition, "imported definition");
  }
  return 0;
}
