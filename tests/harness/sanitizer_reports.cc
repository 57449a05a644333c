#include "tests/harness/sanitizer_reports.h"

#include <fstream>

#include "gtest/gtest.h"

namespace saga::testing {

std::string FirstSanitizerReport(const std::string& log_path) {
  std::ifstream in(log_path);
  std::string line, report;
  int lines = 0;
  while (std::getline(in, line)) {
    const bool starts = line.find("ERROR: AddressSanitizer") != std::string::npos ||
                        line.find("ERROR: LeakSanitizer") != std::string::npos ||
                        line.find("WARNING: ThreadSanitizer") != std::string::npos ||
                        line.find("ThreadSanitizer: ") != std::string::npos ||
                        line.find(": runtime error: ") != std::string::npos;
    if (lines == 0 && !starts) continue;
    report += line + "\n";
    if (++lines == 60) break;
  }
  return report;
}

void ExpectNoSanitizerReport(const std::string& log_path, const std::string& who) {
  const std::string report = FirstSanitizerReport(log_path);
  EXPECT_EQ(report, "") << who << " reported this (its log: " << log_path << ")";
}

}  // namespace saga::testing
