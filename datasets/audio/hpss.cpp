// Median-filtering HPSS (librosa.decompose.hpss / effects.percussive): see hpss.h.
// The median filters run as sliding windows over a sorted copy of the window (one removal
// and one insertion per step, each a binary search and a short memmove), so a window of 31
// costs ~31 moved floats per output instead of a selection over 31 values.
#include "datasets/audio/hpss.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include "datasets/audio/istft.h"

namespace melgrad::audio {
namespace {

// Index into a line of n samples extended by scipy's "reflect" mode (half-sample symmetric,
// repeated for windows longer than the line).
int64_t reflect_index(int64_t i, int64_t n) {
  const int64_t period = 2 * n;
  int64_t m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

// Running median of `size` (odd) over line[0..n) with reflect padding; out[0..n).
// `extended` and `window` are scratch buffers reused across lines.
void running_median(const float* line, int64_t n, int64_t size, float* out,
                    std::vector<float>& extended, std::vector<float>& window) {
  const int64_t half = size / 2;
  extended.resize(size_t(n + 2 * half));
  for (int64_t i = 0; i < n + 2 * half; ++i) extended[size_t(i)] = line[reflect_index(i - half, n)];
  window.assign(extended.begin(), extended.begin() + size);
  std::sort(window.begin(), window.end());
  float* w = window.data();
  for (int64_t i = 0;; ++i) {
    out[i] = w[half];
    if (i + 1 == n) break;
    // Slide: drop extended[i], add extended[i + size].
    const float leaving = extended[size_t(i)];
    const float entering = extended[size_t(i + size)];
    float* gone = std::lower_bound(w, w + size, leaving);
    float* slot = std::lower_bound(w, w + size, entering);
    if (slot > gone) {  // shift (gone, slot) left by one, insert before slot
      std::memmove(gone, gone + 1, size_t(slot - gone - 1) * sizeof(float));
      *(slot - 1) = entering;
    } else {  // shift [slot, gone) right by one
      std::memmove(slot + 1, slot, size_t(gone - slot) * sizeof(float));
      *slot = entering;
    }
  }
}

// Runs fn(begin, end) over [0, n) split into `threads` contiguous parts.
template <class Fn>
void split_range(int64_t n, int threads, Fn fn) {
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(threads, n));
  if (parts == 1) {
    fn(int64_t(0), n);
    return;
  }
  std::vector<std::thread> pool;
  for (int64_t p = 0; p < parts; ++p)
    pool.emplace_back(fn, n * p / parts, n * (p + 1) / parts);
  for (auto& t : pool) t.join();
}

void check_size(int64_t size) {
  if (size < 1 || size % 2 == 0)
    throw std::invalid_argument("median filter: size must be a positive odd number, got " +
                                std::to_string(size));
}

}  // namespace

std::vector<float> median_filter_reflect(std::span<const float> x, int64_t rows, int64_t cols,
                                         int64_t size, int axis, int threads) {
  check_size(size);
  if (rows < 1 || cols < 1 || int64_t(x.size()) != rows * cols)
    throw std::invalid_argument("median filter: " + std::to_string(x.size()) +
                                " values do not form a [" + std::to_string(rows) + ", " +
                                std::to_string(cols) + "] array");
  if (axis != 0 && axis != 1)
    throw std::invalid_argument("median filter: axis must be 0 or 1, got " + std::to_string(axis));
  std::vector<float> out(x.size());
  if (axis == 1) {
    split_range(rows, threads, [&](int64_t begin, int64_t end) {
      std::vector<float> extended, window;
      for (int64_t r = begin; r < end; ++r)
        running_median(x.data() + r * cols, cols, size, out.data() + r * cols, extended, window);
    });
  } else {
    split_range(cols, threads, [&](int64_t begin, int64_t end) {
      std::vector<float> extended, window;
      std::vector<float> column(static_cast<size_t>(rows)), filtered(static_cast<size_t>(rows));
      for (int64_t c = begin; c < end; ++c) {
        for (int64_t r = 0; r < rows; ++r) column[size_t(r)] = x[size_t(r * cols + c)];
        running_median(column.data(), rows, size, filtered.data(), extended, window);
        for (int64_t r = 0; r < rows; ++r) out[size_t(r * cols + c)] = filtered[size_t(r)];
      }
    });
  }
  return out;
}

void keep_percussive(Spectrum& spectrum, int64_t kernel_size, int threads) {
  check_size(kernel_size);
  const int64_t bins = spectrum.bins, frames = spectrum.frames;
  if (bins < 1 || frames < 1) return;
  std::vector<float> mag = magnitude(spectrum, 1.0);
  // Harmonic enhancement: median over time along each bin's row.
  const std::vector<float> harmonic = median_filter_reflect(mag, bins, frames, kernel_size, 1, threads);
  // Percussive enhancement column by column (a block of frames at a time, gathered so that
  // the strided reads touch whole cache lines), then the mask is applied in place.
  constexpr int64_t block = 16;
  const int64_t blocks = (frames + block - 1) / block;
  split_range(blocks, threads, [&](int64_t begin, int64_t end) {
    std::vector<float> extended, window;
    std::vector<float> columns(static_cast<size_t>(block * bins)), perc(static_cast<size_t>(bins));
    for (int64_t b = begin; b < end; ++b) {
      const int64_t t0 = b * block, width = std::min(block, frames - t0);
      for (int64_t f = 0; f < bins; ++f)
        for (int64_t j = 0; j < width; ++j) columns[size_t(j * bins + f)] = mag[size_t(f * frames + t0 + j)];
      for (int64_t j = 0; j < width; ++j) {
        running_median(columns.data() + j * bins, bins, kernel_size, perc.data(), extended, window);
        const int64_t t = t0 + j;
        for (int64_t f = 0; f < bins; ++f) {
          const size_t at = size_t(f * frames + t);
          const float p = perc[size_t(f)], h = harmonic[at];
          // librosa.util.softmask(P, H, power=2, split_zeros=True), float32 throughout.
          float z = std::max(p, h);
          float mask = 0.5f;
          if (!(z < FLT_MIN)) {
            const float pm = (p / z) * (p / z), hm = (h / z) * (h / z);
            mask = pm / (pm + hm);
          }
          // (S * mask) * phase, phase = D / |D| (1 + 0j where |D| = 0), as librosa.magphase.
          const float s = mag[at];
          const std::complex<float> d = spectrum.values[at];
          const float scaled = s * mask;
          if (s == 0.0f)
            spectrum.values[at] = {scaled * (d.real() / 1.0f + 1.0f), scaled * (d.imag() / 1.0f)};
          else
            spectrum.values[at] = {scaled * (d.real() / s), scaled * (d.imag() / s)};
        }
      }
    }
  });
}

std::vector<float> percussive(std::span<const float> y, int threads) {
  if (y.empty()) throw std::invalid_argument("percussive: empty signal");
  Spectrum spectrum = stft(y, {.n_fft = 2048, .hop = 512});
  keep_percussive(spectrum, 31, threads);
  return istft(spectrum, 512, int64_t(y.size()));
}

}  // namespace melgrad::audio
