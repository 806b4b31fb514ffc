// CPU reductions (sum, mean, max, min) over any set of dims. The reduced dims are brought last
// (a free view when they already are, else one copy) and each row is reduced by Eigen;
// reducing leading dims of a contiguous tensor reduces columns instead, with no copy.
#include <Eigen/Core>
#include <stdexcept>

#include "engine/cpu/cpu_backend.h"

namespace melgrad::cpu {

template <class T>
using RowMajorMap =
    Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

template <class T>
static void reduce_rows(ReduceOp op, const T* x, T* out, int64_t rows, int64_t cols) {
  RowMajorMap<T> m(x, rows, cols);
  Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>> o(out, rows);
  switch (op) {
    case ReduceOp::sum:
      o = m.rowwise().sum();
      break;
    case ReduceOp::mean:
      o = m.rowwise().mean();
      break;
    case ReduceOp::max:
      o = m.rowwise().maxCoeff();
      break;
    case ReduceOp::min:
      o = m.rowwise().minCoeff();
      break;
  }
}

template <class T>
static void reduce_cols(ReduceOp op, const T* x, T* out, int64_t rows, int64_t cols) {
  RowMajorMap<T> m(x, rows, cols);
  Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>> o(out, cols);
  switch (op) {
    case ReduceOp::sum:
      o = m.colwise().sum();
      break;
    case ReduceOp::mean:
      o = m.colwise().mean();
      break;
    case ReduceOp::max:
      o = m.colwise().maxCoeff();
      break;
    case ReduceOp::min:
      o = m.colwise().minCoeff();
      break;
  }
}

void CpuBackend::reduce(ReduceOp op, const Tensor& x, const Tensor& out) {
  if (out.dim() != x.dim() || !out.is_contiguous())
    throw std::logic_error("reduce: output must be contiguous with the input's rank");
  const Shape& s = x.shape();
  std::vector<int64_t> kept, reduced;
  int64_t K = 1, R = 1;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (out.shape()[d] == 1 && s[d] != 1) {
      reduced.push_back(d);
      R *= s[d];
    } else if (s[d] != 1) {
      kept.push_back(d);
      K *= s[d];
    }
  }
  if (x.numel() == 0) throw std::invalid_argument("reduce: cannot reduce an empty tensor");
  dispatch_floating(x.dtype(), "reduce", [&]<class T>() {
    T* o = out.data<T>();
    if (reduced.empty()) {
      copy(x, out);
      return;
    }
    bool contiguous = x.is_contiguous();
    if (contiguous && (kept.empty() || kept.back() < reduced.front())) {
      reduce_rows<T>(op, x.data<T>(), o, K, R);
      return;
    }
    if (contiguous && reduced.back() < kept.front()) {
      reduce_cols<T>(op, x.data<T>(), o, R, K);
      return;
    }
    Shape shape, strides;
    for (int64_t d : kept) shape.push_back(s[d]), strides.push_back(x.strides()[d]);
    for (int64_t d : reduced) shape.push_back(s[d]), strides.push_back(x.strides()[d]);
    Tensor permuted = contiguous_copy(x.as_strided(shape, strides, x.offset()));
    reduce_rows<T>(op, permuted.data<T>(), o, K, R);
  });
}

void CpuBackend::argmax(const Tensor& x, int64_t dim, const Tensor& out) {
  Tensor xc = contiguous_copy(x);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= x.size(d);
  for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.size(d);
  const int64_t D = x.size(dim);
  int64_t* po = out.data<int64_t>();
  dispatch_floating(x.dtype(), "argmax", [&]<class T>() {
    const T* px = xc.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const T* p = px + o * D * inner + i;
        int64_t best = 0;
        for (int64_t k = 1; k < D; ++k)
          if (p[k * inner] > p[best * inner]) best = k;
        po[o * inner + i] = best;
      }
  });
}

}  // namespace melgrad::cpu
