// main() of the dist tests, which CTest runs under `mpirun -np 2` (and once without mpirun):
// doctest, then MPI_Finalize on every rank.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "engine/dist/transport.h"

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int rc = context.run();
  melgrad::dist::finalize();
  return rc;
}
