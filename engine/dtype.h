// Element types of tensors: float32 and float64 for values, int64 for indices.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace melgrad {

enum class DType : uint8_t { f32, f64, i64 };

inline size_t dtype_size(DType t) { return t == DType::f32 ? 4 : 8; }

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32:
      return "float32";
    case DType::f64:
      return "float64";
    case DType::i64:
      return "int64";
  }
  return "?";
}

inline bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::i64;
}

// Calls f.template operator()<T>() with T the C++ type of `t` (floating types only).
template <class F>
decltype(auto) dispatch_floating(DType t, const char* what, F&& f) {
  switch (t) {
    case DType::f32:
      return f.template operator()<float>();
    case DType::f64:
      return f.template operator()<double>();
    default:
      break;
  }
  throw std::invalid_argument(std::string(what) + ": expected a float32 or float64 tensor, got " +
                              dtype_name(t));
}

// Same for every dtype, int64 included.
template <class F>
decltype(auto) dispatch_all(DType t, F&& f) {
  switch (t) {
    case DType::f32:
      return f.template operator()<float>();
    case DType::f64:
      return f.template operator()<double>();
    case DType::i64:
      return f.template operator()<int64_t>();
  }
  throw std::logic_error("unknown dtype");
}

}  // namespace melgrad
