// Strided iteration for CPU kernels: walks every element of a shape for K operands that
// each have their own strides, in runs along the innermost (coalesced) dimension, so
// kernels write one tight loop per run:
//
//   for_each_run<2>(out.shape(), {out.strides(), x.strides()},
//       [&](const int64_t* off, int64_t n, const int64_t* step) {
//         for (int64_t i = 0; i < n; ++i) o[off[0] + i * step[0]] = f(x[off[1] + i * step[1]]);
//       });
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "engine/shape.h"

namespace melgrad::cpu {

template <size_t K, class Body>
void for_each_run(const Shape& shape, const std::array<Shape, K>& strides, Body&& body) {
  // Coalesce: drop size-1 dims, merge dims that are contiguous for every operand.
  std::vector<int64_t> sizes;
  std::array<std::vector<int64_t>, K> st;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) return;
    if (shape[d] == 1) continue;
    bool merge = !sizes.empty();
    for (size_t k = 0; k < K && merge; ++k) merge = st[k].back() == strides[k][d] * shape[d];
    if (merge) {
      sizes.back() *= shape[d];
      for (size_t k = 0; k < K; ++k) st[k].back() = strides[k][d];
    } else {
      sizes.push_back(shape[d]);
      for (size_t k = 0; k < K; ++k) st[k].push_back(strides[k][d]);
    }
  }
  int64_t off[K] = {};
  int64_t step[K];
  if (sizes.empty()) {  // a single element
    for (size_t k = 0; k < K; ++k) step[k] = 0;
    body(off, int64_t{1}, step);
    return;
  }
  const size_t nd = sizes.size();
  const int64_t inner = sizes[nd - 1];
  for (size_t k = 0; k < K; ++k) step[k] = st[k][nd - 1];
  std::vector<int64_t> idx(nd - 1, 0);
  while (true) {
    body(off, inner, step);
    int64_t d = static_cast<int64_t>(nd) - 2;  // advance the outer index, last dim first
    for (; d >= 0; --d) {
      ++idx[d];
      for (size_t k = 0; k < K; ++k) off[k] += st[k][d];
      if (idx[d] < sizes[d]) break;
      for (size_t k = 0; k < K; ++k) off[k] -= st[k][d] * sizes[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

}  // namespace melgrad::cpu
