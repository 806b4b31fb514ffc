// The part of tests/skip.h that a test main includes (once per executable): a doctest
// listener that follows which test case runs, and finish(), what main returns.
#pragma once

#include <doctest/doctest.h>

#include <cstdio>

#include "tests/skip.h"

namespace melgrad::testing {

struct SkipListener : doctest::IReporter {
  explicit SkipListener(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData& tc) override {
    ++skip_log().started;
    skip_log().current = tc.m_name;
  }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};
REGISTER_LISTENER("melgrad_skips", 1, SkipListener);

// `doctest_result`: Context::run()'s. A failure stays a failure; a run whose test cases all
// skipped is kSkipExitCode; skips mixed with test cases that ran fail the run (see skip.h).
inline int finish(int doctest_result) {
  const SkipLog& log = skip_log();
  if (doctest_result != 0 || log.skipped.empty()) return doctest_result;
  const int skipped = static_cast<int>(log.skipped.size());
  if (skipped == log.started) return kSkipExitCode;
  std::fprintf(stderr,
               "%d of %d test cases skipped in a run with others; CTest can only report a whole "
               "run as skipped, so give each of them a CTest test of its own:\n",
               skipped, log.started);
  for (const std::string& s : log.skipped) std::fprintf(stderr, "  %s\n", s.c_str());
  return 1;
}

}  // namespace melgrad::testing
