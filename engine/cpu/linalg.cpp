// CPU matrix multiply on Eigen's GEMM. Row-major and column-major (transposed) views map
// directly with their leading dimension, so a.transpose(0, 1) @ b costs no copy; other
// layouts are copied once. Eigen threads large products with OpenMP.
#include <Eigen/Core>
#include <stdexcept>

#include "engine/cpu/cpu_backend.h"

namespace melgrad::cpu {

template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ColMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

static bool row_major(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  return (cs == 1 || cols == 1) && (rs >= cols || rows == 1);
}
static bool col_major(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  return (rs == 1 || rows == 1) && (cs >= rows || cols == 1);
}

// Calls f(map) with an Eigen map of the rows x cols matrix at p with strides (rs, cs);
// the layout must be row_major or col_major.
template <class T, class F>
static void with_matrix(const T* p, int64_t rows, int64_t cols, int64_t rs, int64_t cs, F&& f) {
  if (row_major(rows, cols, rs, cs)) {
    f(Eigen::Map<const RowMat<T>, 0, Eigen::OuterStride<>>(
        p, rows, cols, Eigen::OuterStride<>(std::max(rs, cols))));
  } else {
    f(Eigen::Map<const ColMat<T>, 0, Eigen::OuterStride<>>(
        p, rows, cols, Eigen::OuterStride<>(std::max(cs, rows))));
  }
}

// x itself when each [rows, cols] matrix of it maps onto Eigen directly, else a copy.
static Tensor mappable(const Tensor& x) {
  const int64_t r = x.size(1), c = x.size(2), rs = x.strides()[1], cs = x.strides()[2];
  return row_major(r, c, rs, cs) || col_major(r, c, rs, cs) ? x : contiguous_copy(x);
}

void CpuBackend::matmul(const Tensor& a, const Tensor& b, const Tensor& out) {
  if (a.dim() != 3 || b.dim() != 3 || out.dim() != 3 || !out.is_contiguous())
    throw std::logic_error("matmul kernel: expects [B,M,K] @ [B,K,N] -> contiguous [B,M,N]");
  const int64_t B = out.size(0), M = a.size(1), K = a.size(2), N = b.size(2);
  dispatch_floating(out.dtype(), "matmul", [&]<class T>() {
    Tensor am = mappable(a), bm = mappable(b);
    const T* pa = am.data<T>();
    const T* pb = bm.data<T>();
    T* po = out.data<T>();
    for (int64_t i = 0; i < B; ++i) {
      Eigen::Map<RowMat<T>> o(po + i * M * N, M, N);
      with_matrix(pa + i * am.strides()[0], M, K, am.strides()[1], am.strides()[2],
                  [&](const auto& ma) {
                    with_matrix(pb + i * bm.strides()[0], K, N, bm.strides()[1],
                                bm.strides()[2], [&](const auto& mb) { o.noalias() = ma * mb; });
                  });
    }
  });
}

}  // namespace melgrad::cpu
