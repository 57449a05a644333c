// Definitions kept as files: every `*.textproto` (or `.txtpb`, `.pbtxt`) file of a directory is
// one saga.v1.SagaDefinition in protobuf text format. sagad registers them at start
// (--definitions DIR); a file that does not parse or validate stops the start, naming the file.
#ifndef SAGA_COORDINATOR_DEFINITION_FILES_H_
#define SAGA_COORDINATOR_DEFINITION_FILES_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "saga/v1/definition.pb.h"

namespace saga::coordinator {

// The definitions of `dir`'s files, in file name order, each with its file's path.
// INVALID_ARGUMENT naming the file and the line when one does not parse; NOT_FOUND when `dir`
// is not a readable directory.
absl::StatusOr<std::vector<std::pair<std::string, saga::v1::SagaDefinition>>>
ReadDefinitionDirectory(const std::string& dir);

}  // namespace saga::coordinator

#endif  // SAGA_COORDINATOR_DEFINITION_FILES_H_
