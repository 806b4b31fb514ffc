// Host-side helpers for kernels/ launchers: parameter validation with messages that name
// the launcher and the field, and grid arithmetic. Plain C++, used by both builds.
//
// Pointers a kernel dereferences must be device memory. In emulator builds (the kernels'
// CI) require_pointer and require_optional_pointer also ask the emulator whether a pointer
// lies in one of its allocations and refuse a host pointer by launcher and field name: the
// launch itself checks only its top-level pointer arguments, not the pointers that
// launchers pack into argument structs and tables (LSTM ForwardArgs, AdamTable, the
// indexing params), which on a GPU would fault. CUDA builds check for null only.
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

#ifdef MELGRAD_KERNELS_EMU
#include "kernels/emu/emu.h"
#endif

namespace melgrad::kernels {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

[[noreturn]] inline void invalid_params(const char* launcher, const std::string& what) {
  throw std::invalid_argument(std::string(launcher) + ": " + what);
}

inline void require_non_negative(const char* launcher, const char* field, int64_t v) {
  if (v < 0)
    invalid_params(launcher, std::string(field) + " must be >= 0 (got " + std::to_string(v) + ")");
}

// A non-null pointer to host memory that the launcher itself reads (e.g. adam's tensor list).
inline void require_host_pointer(const char* launcher, const char* field, const void* p) {
  if (p == nullptr) invalid_params(launcher, std::string(field) + " is null");
}

// Device memory or null (an optional field). The emulator refuses anything else.
inline void require_optional_pointer(const char* launcher, const char* field, const void* p) {
#ifdef MELGRAD_KERNELS_EMU
  if (p != nullptr && !emu::is_device_pointer(p)) {
    std::ostringstream os;
    os << field << " (" << p << ") is not device memory (a host pointer?); kernels can "
       << "only read memory from device_malloc";
    invalid_params(launcher, os.str());
  }
#else
  (void)launcher, (void)field, (void)p;
#endif
}

// Device memory, not null.
inline void require_pointer(const char* launcher, const char* field, const void* p) {
  if (p == nullptr) invalid_params(launcher, std::string(field) + " is null");
  require_optional_pointer(launcher, field, p);
}

// CUDA's grid.x limit.
inline void require_grid_x(const char* launcher, int64_t blocks) {
  if (blocks > 0x7fffffff) {
    invalid_params(launcher, "needs " + std::to_string(blocks) + " blocks, more than 2^31-1");
  }
}

}  // namespace melgrad::kernels
