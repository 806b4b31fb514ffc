// `mpirun -np N melgrad ...` for the dist end-to-end tests; the test target defines
// MELGRAD_MPIEXEC (CMake's MPIEXEC_EXECUTABLE).
#pragma once

#include <string>
#include <vector>

#include "tests/e2e/e2e_util.h"

namespace e2e {

// Runs melgrad on `ranks` processes (as root too, more ranks than cores allowed) and waits.
inline Result mpirun(int ranks, const std::vector<std::string>& melgrad_args) {
  std::vector<std::string> a = {"--allow-run-as-root", "--oversubscribe", "-np",
                                std::to_string(ranks), melgrad_exe().string()};
  a.insert(a.end(), melgrad_args.begin(), melgrad_args.end());
  return run(a, MELGRAD_MPIEXEC);
}

}  // namespace e2e
