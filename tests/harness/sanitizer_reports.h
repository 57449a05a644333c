// A sanitizer report in a child process (sagad, `sagad relay`, a test consumer) must fail the
// test that started it, even when the test kills and restarts that child on purpose (a crash
// test would otherwise take an AddressSanitizer abort for one of its own kills, and a
// ThreadSanitizer report does not stop the process at all). The children write their reports
// to their log; the harness reads the log when it is done with the child.
#ifndef SAGA_TESTS_HARNESS_SANITIZER_REPORTS_H_
#define SAGA_TESTS_HARNESS_SANITIZER_REPORTS_H_

#include <string>

namespace saga::testing {

// The first sanitizer report in the file at `log_path` (AddressSanitizer, LeakSanitizer,
// ThreadSanitizer or UBSan), up to 60 lines of it; "" when there is none or no file.
std::string FirstSanitizerReport(const std::string& log_path);

// Adds a gtest failure naming `who` and showing the report when the log holds one.
void ExpectNoSanitizerReport(const std::string& log_path, const std::string& who);

}  // namespace saga::testing

#endif  // SAGA_TESTS_HARNESS_SANITIZER_REPORTS_H_
