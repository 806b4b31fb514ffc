// The determinism setting (engine/determinism.h): its values, the error for any other, and
// setting it. What it changes runs on a GPU with cuDNN (kernels/cudnn_layers_impl.cuh,
// test_e2e_cuda_native_runs); the choice it drives is tested with fakes in
// tests/kernels/test_cudnn_bookkeeping.cpp.
#include <doctest/doctest.h>

#include <stdexcept>

#include "engine/determinism.h"

using namespace melgrad;

TEST_CASE("determinism setting: on by default, on/off/1/0, anything else names the source") {
  CHECK(deterministic_algorithms());  // ctest sets no MELGRAD_DETERMINISTIC
  CHECK(parse_deterministic("--deterministic", "on"));
  CHECK(parse_deterministic("--deterministic", "1"));
  CHECK_FALSE(parse_deterministic("--deterministic", "off"));
  CHECK_FALSE(parse_deterministic("--deterministic", "0"));
  CHECK_THROWS_WITH_AS(parse_deterministic("MELGRAD_DETERMINISTIC", "yes"),
                       "MELGRAD_DETERMINISTIC: expected on or off, got 'yes'",
                       std::invalid_argument);
  set_deterministic_algorithms(false);
  CHECK_FALSE(deterministic_algorithms());
  set_deterministic_algorithms(true);
  CHECK(deterministic_algorithms());
}
