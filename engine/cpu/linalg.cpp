// CPU matrix multiply on Eigen's GEMM. Row-major and column-major (transposed) views map
// directly with their leading dimension, so a.transpose(0, 1) @ b costs no copy; other
// layouts are copied once. Products of at least kParallelWork multiply-adds are split
// over the OpenMP threads (by batch, else by the longer of the output's rows and
// columns), each part a single-threaded Eigen GEMM; smaller ones run on the calling
// thread, where a fork/join would cost more than it saves when the cores are shared.
#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
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

// ~0.7 ms of single-threaded GEMM.
constexpr double kParallelWork = 32e6;

void CpuBackend::matmul(const Tensor& a, const Tensor& b, const Tensor& out) {
  if (a.dim() != 3 || b.dim() != 3 || out.dim() != 3 || !out.is_contiguous())
    throw std::logic_error("matmul kernel: expects [B,M,K] @ [B,K,N] -> contiguous [B,M,N]");
  const int64_t B = out.size(0), M = a.size(1), K = a.size(2), N = b.size(2);
  dispatch_floating(out.dtype(), "matmul", [&]<class T>() {
    Tensor am = mappable(a), bm = mappable(b);
    const T* pa = am.data<T>();
    const T* pb = bm.data<T>();
    T* po = out.data<T>();
    const int nt = omp_get_max_threads();
    const bool parallel = nt > 1 && double(B) * M * N * K >= kParallelWork && !omp_in_parallel();
    // Part p of nt: batches when there are several, else a slice of rows or columns.
    const bool by_batch = B >= nt, by_rows = M >= N;
    auto part = [&](int p, int parts) {
      const int64_t extent = by_batch ? B : by_rows ? M : N;
      const int64_t begin = extent * p / parts, end = extent * (p + 1) / parts;
      const int64_t b0 = by_batch ? begin : 0, b1 = by_batch ? end : B;
      for (int64_t i = b0; i < b1; ++i) {
        Eigen::Map<RowMat<T>> o(po + i * M * N, M, N);
        with_matrix(pa + i * am.strides()[0], M, K, am.strides()[1], am.strides()[2],
                    [&](const auto& ma) {
                      with_matrix(pb + i * bm.strides()[0], K, N, bm.strides()[1], bm.strides()[2],
                                  [&](const auto& mb) {
                                    if (by_batch || parts == 1)
                                      o.noalias() = ma * mb;
                                    else if (by_rows)
                                      o.middleRows(begin, end - begin).noalias() =
                                          ma.middleRows(begin, end - begin) * mb;
                                    else
                                      o.middleCols(begin, end - begin).noalias() =
                                          ma * mb.middleCols(begin, end - begin);
                                  });
                    });
      }
    };
    if (parallel) {
#pragma omp parallel num_threads(nt)
      part(omp_get_thread_num(), omp_get_num_threads());
    } else {
      part(0, 1);
    }
  });
}

}  // namespace melgrad::cpu
