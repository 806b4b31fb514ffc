// argmax, index_select / index_add and gather / scatter_add along one dimension (see
// indexing.h), with their CPU references. Every kernel is a grid-stride loop with one
// thread per output element; the adds loop over the sources of their element in order.
#include <cmath>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>

#include "kernels/emu/cuda_compat.h"
#include "kernels/indexing.h"
#include "kernels/launch_checks.h"

namespace melgrad::kernels {

const char* index_error_name(int code) {
  switch (static_cast<IndexError>(code)) {
    case IndexError::index_select:
      return "index_select";
    case IndexError::index_add:
      return "index_add";
    case IndexError::gather:
      return "gather";
    case IndexError::scatter_add:
      return "scatter_add";
    case IndexError::cross_entropy_target:
      return "cross_entropy: a target class outside [0, C)";
    case IndexError::lstm_length:
      return "lstm: a sequence length outside [1, T]";
    default:
      return "none";
  }
}

namespace {

constexpr int kThreads = 256;
constexpr int kBlocksPerSm = 8;

__device__ inline void report(int* error, IndexError code) {
  if (error != nullptr) atomicCAS(error, 0, static_cast<int>(code));
}

__device__ inline float quiet_nan() { return __int_as_float(0x7fc00000); }

#define MG_GRID_STRIDE_LOOP(i, n)                                                        \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

__global__ void __launch_bounds__(kThreads) argmax_kernel(ArgmaxParams p) {
  MG_GRID_STRIDE_LOOP(t, p.outer * p.inner) {
    const int64_t o = t / p.inner, i = t % p.inner;
    const float* x = p.x + o * p.size * p.inner + i;
    int64_t best = 0;
    float best_value = x[0];
    for (int64_t k = 1; k < p.size; ++k) {
      const float v = x[k * p.inner];
      if (v > best_value) {  // strict: the first maximum wins; NaN never replaces
        best = k;
        best_value = v;
      }
    }
    p.y[t] = best;
  }
}

__global__ void __launch_bounds__(kThreads) index_select_kernel(IndexSelectParams p) {
  MG_GRID_STRIDE_LOOP(t, p.outer * p.index_len * p.inner) {
    const int64_t i = t % p.inner, l = (t / p.inner) % p.index_len, o = t / (p.inner * p.index_len);
    const int64_t j = p.index[l];
    if (j < 0 || j >= p.x_size) {
      report(p.error, IndexError::index_select);
      p.y[t] = quiet_nan();
    } else {
      p.y[t] = p.x[(o * p.x_size + j) * p.inner + i];
    }
  }
}

__global__ void __launch_bounds__(kThreads) index_add_kernel(IndexAddParams p) {
  MG_GRID_STRIDE_LOOP(t, p.outer * p.y_size * p.inner) {
    const int64_t i = t % p.inner, j = (t / p.inner) % p.y_size, o = t / (p.inner * p.y_size);
    float acc = p.y[t];
    for (int64_t l = 0; l < p.index_len; ++l) {
      const int64_t k = p.index[l];
      if (k == j) acc += p.src[(o * p.index_len + l) * p.inner + i];
      if (k < 0 || k >= p.y_size) report(p.error, IndexError::index_add);
    }
    p.y[t] = acc;
  }
}

__global__ void __launch_bounds__(kThreads) gather_kernel(GatherParams p) {
  MG_GRID_STRIDE_LOOP(t, p.outer * p.index_size * p.inner) {
    const int64_t i = t % p.inner, o = t / (p.inner * p.index_size);
    const int64_t j = p.index[t];
    if (j < 0 || j >= p.x_size) {
      report(p.error, IndexError::gather);
      p.y[t] = quiet_nan();
    } else {
      p.y[t] = p.x[(o * p.x_size + j) * p.inner + i];
    }
  }
}

__global__ void __launch_bounds__(kThreads) scatter_add_kernel(ScatterAddParams p) {
  MG_GRID_STRIDE_LOOP(t, p.outer * p.y_size * p.inner) {
    const int64_t i = t % p.inner, j = (t / p.inner) % p.y_size, o = t / (p.inner * p.y_size);
    float acc = p.y[t];
    for (int64_t l = 0; l < p.index_size; ++l) {
      const int64_t s = (o * p.index_size + l) * p.inner + i;
      const int64_t k = p.index[s];
      if (k == j) acc += p.src[s];
      if (k < 0 || k >= p.y_size) report(p.error, IndexError::scatter_add);
    }
    p.y[t] = acc;
  }
}

__global__ void __launch_bounds__(kThreads) check_range_kernel(CheckRangeParams p) {
  MG_GRID_STRIDE_LOOP(t, p.n) {
    const int64_t v = p.values[t];
    if (v < p.lo || v > p.hi) report(p.error, p.code);
  }
}

#undef MG_GRID_STRIDE_LOOP

dim3 grid_for(int64_t n) {
  const int64_t cap = static_cast<int64_t>(device_sm_count()) * kBlocksPerSm;
  const int64_t blocks = ceil_div(n, kThreads);
  return dim3(static_cast<unsigned>(blocks < cap ? blocks : cap));
}

// Checks the sizes; returns false when there is nothing to do.
bool validate(const char* fn, std::initializer_list<std::pair<const char*, int64_t>> sizes) {
  bool any_zero = false;
  for (const auto& [field, v] : sizes) {
    require_non_negative(fn, field, v);
    any_zero = any_zero || v == 0;
  }
  return !any_zero;
}

[[noreturn]] void bad_index(const char* fn, int64_t index, int64_t size) {
  throw std::out_of_range(std::string(fn) + ": index " + std::to_string(index) +
                          " out of range for a dimension of size " + std::to_string(size));
}

}  // namespace

void argmax(const ArgmaxParams& p, Stream stream) {
  const char* fn = "argmax";
  if (!validate(fn, {{"outer", p.outer}, {"inner", p.inner}})) return;
  if (p.size <= 0) invalid_params(fn, "size must be >= 1 (got " + std::to_string(p.size) + ")");
  require_pointer(fn, "x", p.x);
  require_pointer(fn, "y", p.y);
  MG_LAUNCH(argmax_kernel, grid_for(p.outer * p.inner), kThreads, 0, stream)(p);
  MG_CHECK_LAUNCH(fn);
}

void check_range(const CheckRangeParams& p, Stream stream) {
  const char* fn = "check_range";
  if (!validate(fn, {{"n", p.n}})) return;
  require_pointer(fn, "values", p.values);
  require_pointer(fn, "error", p.error);
  if (p.code == IndexError::none) invalid_params(fn, "code must name the check (got none)");
  MG_LAUNCH(check_range_kernel, grid_for(p.n), kThreads, 0, stream)(p);
  MG_CHECK_LAUNCH(fn);
}

void index_select(const IndexSelectParams& p, Stream stream) {
  const char* fn = "index_select";
  require_non_negative(fn, "x_size", p.x_size);
  if (!validate(fn, {{"outer", p.outer}, {"index_len", p.index_len}, {"inner", p.inner}})) return;
  require_pointer(fn, "index", p.index);
  require_pointer(fn, "y", p.y);
  if (p.x_size > 0) require_pointer(fn, "x", p.x);
  require_optional_pointer(fn, "error", p.error);
  MG_LAUNCH(index_select_kernel, grid_for(p.outer * p.index_len * p.inner), kThreads, 0, stream)(p);
  MG_CHECK_LAUNCH(fn);
}

void index_add(const IndexAddParams& p, Stream stream) {
  const char* fn = "index_add";
  require_non_negative(fn, "index_len", p.index_len);
  if (!validate(fn, {{"outer", p.outer}, {"y_size", p.y_size}, {"inner", p.inner}})) return;
  require_pointer(fn, "y", p.y);
  if (p.index_len > 0) {
    require_pointer(fn, "index", p.index);
    require_pointer(fn, "src", p.src);
  }
  require_optional_pointer(fn, "error", p.error);
  MG_LAUNCH(index_add_kernel, grid_for(p.outer * p.y_size * p.inner), kThreads, 0, stream)(p);
  MG_CHECK_LAUNCH(fn);
}

void gather(const GatherParams& p, Stream stream) {
  const char* fn = "gather";
  require_non_negative(fn, "x_size", p.x_size);
  if (!validate(fn, {{"outer", p.outer}, {"index_size", p.index_size}, {"inner", p.inner}})) return;
  require_pointer(fn, "index", p.index);
  require_pointer(fn, "y", p.y);
  if (p.x_size > 0) require_pointer(fn, "x", p.x);
  require_optional_pointer(fn, "error", p.error);
  MG_LAUNCH(gather_kernel, grid_for(p.outer * p.index_size * p.inner), kThreads, 0, stream)(p);
  MG_CHECK_LAUNCH(fn);
}

void scatter_add(const ScatterAddParams& p, Stream stream) {
  const char* fn = "scatter_add";
  require_non_negative(fn, "index_size", p.index_size);
  if (!validate(fn, {{"outer", p.outer}, {"y_size", p.y_size}, {"inner", p.inner}})) return;
  require_pointer(fn, "y", p.y);
  if (p.index_size > 0) {
    require_pointer(fn, "index", p.index);
    require_pointer(fn, "src", p.src);
  }
  require_optional_pointer(fn, "error", p.error);
  MG_LAUNCH(scatter_add_kernel, grid_for(p.outer * p.y_size * p.inner), kThreads, 0, stream)(p);
  MG_CHECK_LAUNCH(fn);
}

// ---- CPU references: the textbook loops ----

void argmax_reference(const ArgmaxParams& p) {
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t i = 0; i < p.inner; ++i) {
      const float* x = p.x + o * p.size * p.inner + i;
      int64_t best = 0;
      for (int64_t k = 1; k < p.size; ++k)
        if (x[k * p.inner] > x[best * p.inner]) best = k;
      p.y[o * p.inner + i] = best;
    }
}

void index_select_reference(const IndexSelectParams& p) {
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t l = 0; l < p.index_len; ++l) {
      const int64_t j = p.index[l];
      if (j < 0 || j >= p.x_size) bad_index("index_select_reference", j, p.x_size);
      for (int64_t i = 0; i < p.inner; ++i)
        p.y[(o * p.index_len + l) * p.inner + i] = p.x[(o * p.x_size + j) * p.inner + i];
    }
}

void index_add_reference(const IndexAddParams& p) {
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t l = 0; l < p.index_len; ++l) {
      const int64_t j = p.index[l];
      if (j < 0 || j >= p.y_size) bad_index("index_add_reference", j, p.y_size);
      for (int64_t i = 0; i < p.inner; ++i)
        p.y[(o * p.y_size + j) * p.inner + i] += p.src[(o * p.index_len + l) * p.inner + i];
    }
}

void gather_reference(const GatherParams& p) {
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t l = 0; l < p.index_size; ++l)
      for (int64_t i = 0; i < p.inner; ++i) {
        const int64_t t = (o * p.index_size + l) * p.inner + i, j = p.index[t];
        if (j < 0 || j >= p.x_size) bad_index("gather_reference", j, p.x_size);
        p.y[t] = p.x[(o * p.x_size + j) * p.inner + i];
      }
}

void scatter_add_reference(const ScatterAddParams& p) {
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t l = 0; l < p.index_size; ++l)
      for (int64_t i = 0; i < p.inner; ++i) {
        const int64_t s = (o * p.index_size + l) * p.inner + i, j = p.index[s];
        if (j < 0 || j >= p.y_size) bad_index("scatter_add_reference", j, p.y_size);
        p.y[(o * p.y_size + j) * p.inner + i] += p.src[s];
      }
}

}  // namespace melgrad::kernels
