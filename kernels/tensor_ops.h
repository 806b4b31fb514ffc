// Small tensor kernels the CUDA backend (engine/cuda) is built from, beside elementwise.h
// (which has the unary and binary maps, comparisons included):
//   fill          y = value                           y: any dtype, any strides
//   strided_copy  y = convert(x)                      x, y: any dtypes (f32/f64/i64), strides
//   where_select  y = cond != 0 ? a : b               cond f32/f64/i64; a, b, y float32
// All take the iteration shape (up to kMaxDims dims, elementwise.h's Shape) and one stride
// vector (in elements) per operand; broadcast dims have stride 0. Contiguous operands take a
// linear-index fast path. Launchers validate (std::invalid_argument naming the launcher and
// the field) and launch on `stream`; *_reference are plain loops on host memory.
#pragma once

#include <cstdint>

#include "kernels/elementwise.h"
#include "kernels/runtime.h"

namespace melgrad::kernels {

enum class ElemType : int { f32, f64, i64 };
std::size_t elem_size(ElemType t);

struct FillParams {
  void* y = nullptr;
  ElemType type = ElemType::f32;
  Shape shape;
  Strides y_strides;
  double value = 0.0;  // converted to `type` once, on the host
};

struct CopyParams {
  const void* x = nullptr;
  ElemType x_type = ElemType::f32;
  void* y = nullptr;
  ElemType y_type = ElemType::f32;
  Shape shape;
  Strides x_strides;
  Strides y_strides;
};

struct WhereParams {
  const void* cond = nullptr;
  ElemType cond_type = ElemType::f32;
  const float* a = nullptr;
  const float* b = nullptr;
  float* y = nullptr;
  Shape shape;
  Strides cond_strides;
  Strides a_strides;
  Strides b_strides;
  Strides y_strides;
};

void fill(const FillParams& p, Stream stream = nullptr);
void strided_copy(const CopyParams& p, Stream stream = nullptr);
void where_select(const WhereParams& p, Stream stream = nullptr);

void fill_reference(const FillParams& p);
void strided_copy_reference(const CopyParams& p);
void where_select_reference(const WhereParams& p);

}  // namespace melgrad::kernels
