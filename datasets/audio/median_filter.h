// Median filters along one axis, as scipy.ndimage.median_filter with mode="reflect", for
// librosa's HPSS (hpss.h).
//
//   median_filter_reflect(x, rows, cols, size, axis)
//       == scipy.ndimage.median_filter(x, size=(1, size) if axis == 1 else (size, 1),
//                                      mode="reflect")
//       x: [rows, cols] row-major; size odd. scipy's "reflect" repeats the edge sample
//       (d c b a | a b c d | d c b a), periodically for windows longer than the line.
//   median_lines(...)  the kernel under it, for strided lines and any index map.
//
// Medians are exact (a selection, no arithmetic), so results equal scipy's bit for bit.
// Method: 16 lines at a time, one SIMD lane per line. Two neighbouring windows share
// size - 1 values; a sorting network (Batcher's odd-even merge sort on the next power of two,
// missing inputs +inf) pruned to the comparators that reach the two middle wires sorts out
// those shared values' middle pair (lo, hi), and each window's median is then
// min(max(its own extra value, lo), hi). For size 31: 148 min/max pairs per 2 x 16 outputs,
// no branches, no data-dependent memory moves (~3.4x faster than a sliding sorted window).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace melgrad::audio {

// Index into a line of n samples extended by scipy's "reflect" mode.
int64_t scipy_reflect_index(int64_t i, int64_t n);

// For `lines` lines, line l's e-th element at data[l * line_step + e * element_step]:
// out[l * out_line_step + i * out_element_step] = median over k < size of the element
// positions[i + k] (positions: outputs + size - 1 element indices, the window's extension,
// e.g. scipy_reflect_index(i - size / 2, n)). `threads` split the lines.
void median_lines(const float* data, int64_t lines, int64_t line_step, int64_t element_step,
                  std::span<const int64_t> positions, int64_t size, float* out,
                  int64_t out_line_step, int64_t out_element_step, int threads = 1);

std::vector<float> median_filter_reflect(std::span<const float> x, int64_t rows, int64_t cols,
                                         int64_t size, int axis, int threads = 1);

}  // namespace melgrad::audio
