// What the emulator's own tests share: the message of the KernelError a launch throws.
#pragma once

#include <string>

#include "kernels/emu/cuda_compat.h"

namespace melgrad::emu::testing {

// Runs f (a launch) and returns the message of the KernelError it throws, "" when none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const KernelError& e) {
    return e.what();
  }
  return "";
}

}  // namespace melgrad::emu::testing
