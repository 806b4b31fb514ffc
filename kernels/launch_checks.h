// Host-side helpers for kernels/ launchers: parameter validation with messages that name
// the launcher and the field, and grid arithmetic. Plain C++, used by both builds.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace melgrad::kernels {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

[[noreturn]] inline void invalid_params(const char* launcher, const std::string& what) {
  throw std::invalid_argument(std::string(launcher) + ": " + what);
}

inline void require_non_negative(const char* launcher, const char* field, int64_t v) {
  if (v < 0) invalid_params(launcher, std::string(field) + " must be >= 0 (got " + std::to_string(v) + ")");
}

inline void require_pointer(const char* launcher, const char* field, const void* p) {
  if (p == nullptr) invalid_params(launcher, std::string(field) + " is null");
}

// CUDA's grid.x limit.
inline void require_grid_x(const char* launcher, int64_t blocks) {
  if (blocks > 0x7fffffff) {
    invalid_params(launcher, "needs " + std::to_string(blocks) + " blocks, more than 2^31-1");
  }
}

}  // namespace melgrad::kernels
