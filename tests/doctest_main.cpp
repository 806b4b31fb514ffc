// The one main() of every doctest executable registered with melgrad_add_test: doctest's
// run, then tests/skip_main.h's finish() (77, CTest's skip code, when every test case that
// ran was skipped).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "tests/skip_main.h"

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int result = context.run();
  if (context.shouldExit()) return result;  // --help, --list-test-cases, ...
  return melgrad::testing::finish(result);
}
