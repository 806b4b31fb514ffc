// Median filters by pruned sorting networks, 16 lines per SIMD vector: see median_filter.h.
#include "datasets/audio/median_filter.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

namespace melgrad::audio {
namespace {

constexpr int64_t kLanes = 16;  // lines per vector: one AVX-512 register of floats

using Network = std::vector<std::pair<int, int>>;

// Batcher's odd-even merge sort on `wires` (a power of two) wires, without the comparators
// that touch a wire >= `inputs` (those hold +inf and never change: a comparator (a, b), a < b,
// leaves min(v_a, inf) = v_a and inf in place) and without those that cannot reach the
// wires `targets` at the output.
Network pruned_network(int inputs, const std::vector<int>& targets) {
  int wires = 1;
  while (wires < inputs) wires *= 2;
  Network all;
  for (int p = 1; p < wires; p *= 2)
    for (int k = p; k >= 1; k /= 2)
      for (int j = k % p; j + k < wires; j += 2 * k)
        for (int i = 0; i < std::min(k, wires - j - k); ++i)
          if ((i + j) / (2 * p) == (i + j + k) / (2 * p) && i + j + k < inputs)
            all.emplace_back(i + j, i + j + k);
  std::vector<bool> needed(size_t(wires), false);
  for (int t : targets) needed[size_t(t)] = true;
  Network kept;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (needed[size_t(it->first)] || needed[size_t(it->second)]) {
      needed[size_t(it->first)] = needed[size_t(it->second)] = true;
      kept.push_back(*it);
    }
  }
  std::reverse(kept.begin(), kept.end());
  return kept;
}

// Two neighbouring windows of `size` share size - 1 values; sorted, those give both medians:
// median(shared + {a}) = min(max(a, s[h - 1]), s[h]) with h = (size - 1) / 2. The network
// finds s[h - 1] and s[h] of the size - 1 shared values.
const Network& cached_pair_network(int size) {
  static std::mutex mutex;
  static std::map<int, Network> networks;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = networks.find(size);
  if (it == networks.end()) {
    const int h = (size - 1) / 2;
    it = networks.emplace(size, pruned_network(size - 1, {h - 1, h})).first;
  }
  return it->second;
}

// 16 floats as one value (GCC/Clang vector extension: one AVX-512 register, or two AVX2 or
// four SSE registers where the target has no AVX-512).
typedef float Vector16 __attribute__((vector_size(kLanes * sizeof(float))));

// out[i][lane] = median of in[i .. i + size)[lane], two outputs per network run;
// in: [outputs + size][kLanes] (one position more than the windows need, for the pair of
// the last output when `outputs` is odd); size >= 3.
void network_medians(const float* in, int64_t outputs, int64_t size, const Network& network,
                     float* out, Vector16* wires) {
  const int64_t h = (size - 1) / 2;
  for (int64_t i = 0; i < outputs; i += 2) {
    std::memcpy(static_cast<void*>(wires), in + (i + 1) * kLanes,
                size_t((size - 1) * kLanes) * sizeof(float));
    for (const auto& [a, b] : network) {
      const Vector16 x = wires[a], y = wires[b];
      wires[a] = x < y ? x : y;  // min and max, lane by lane
      wires[b] = x < y ? y : x;
    }
    const Vector16 low = wires[h - 1], high = wires[h];
    for (int64_t j = 0; j < 2 && i + j < outputs; ++j) {
      Vector16 v;
      std::memcpy(&v, in + (j == 0 ? i : i + size) * kLanes, sizeof(Vector16));
      v = v < low ? low : v;
      v = v < high ? v : high;
      std::memcpy(out + (i + j) * kLanes, &v, sizeof(Vector16));
    }
  }
}

}  // namespace

int64_t scipy_reflect_index(int64_t i, int64_t n) {
  const int64_t period = 2 * n;
  int64_t m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

void median_lines(const float* data, int64_t lines, int64_t line_step, int64_t element_step,
                  std::span<const int64_t> positions, int64_t size, float* out,
                  int64_t out_line_step, int64_t out_element_step, int threads) {
  if (size < 1 || size % 2 == 0)
    throw std::invalid_argument("median filter: size must be a positive odd number, got " +
                                std::to_string(size));
  const int64_t outputs = int64_t(positions.size()) - (size - 1);
  if (outputs < 1 || lines < 1) return;
  if (size == 1) {  // the window is the value
    for (int64_t l = 0; l < lines; ++l)
      for (int64_t i = 0; i < outputs; ++i)
        out[l * out_line_step + i * out_element_step] =
            data[l * line_step + positions[size_t(i)] * element_step];
    return;
  }
  const Network& network = cached_pair_network(int(size));
  const int64_t groups = (lines + kLanes - 1) / kLanes;
  auto run = [&](int64_t begin, int64_t end) {
    std::vector<float> in((positions.size() + 1) * kLanes, 0.0f), medians(size_t(outputs * kLanes));
    std::vector<Vector16> wires(static_cast<size_t>(size));
    for (int64_t g = begin; g < end; ++g) {
      const int64_t first = g * kLanes, count = std::min(kLanes, lines - first);
      for (size_t p = 0; p < positions.size(); ++p) {
        const float* src = data + first * line_step + positions[p] * element_step;
        float* dst = in.data() + p * kLanes;
        for (int64_t l = 0; l < count; ++l) dst[l] = src[l * line_step];
        for (int64_t l = count; l < kLanes; ++l) dst[l] = 0.0f;
      }
      network_medians(in.data(), outputs, size, network, medians.data(), wires.data());
      for (int64_t l = 0; l < count; ++l) {
        float* dst = out + (first + l) * out_line_step;
        for (int64_t i = 0; i < outputs; ++i)
          dst[i * out_element_step] = medians[size_t(i * kLanes + l)];
      }
    }
  };
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(threads, groups));
  if (parts == 1) {
    run(0, groups);
    return;
  }
  std::vector<std::thread> pool;
  for (int64_t p = 0; p < parts; ++p)
    pool.emplace_back(run, groups * p / parts, groups * (p + 1) / parts);
  for (auto& t : pool) t.join();
}

std::vector<float> median_filter_reflect(std::span<const float> x, int64_t rows, int64_t cols,
                                         int64_t size, int axis, int threads) {
  if (rows < 1 || cols < 1 || int64_t(x.size()) != rows * cols)
    throw std::invalid_argument("median filter: " + std::to_string(x.size()) +
                                " values do not form a [" + std::to_string(rows) + ", " +
                                std::to_string(cols) + "] array");
  if (axis != 0 && axis != 1)
    throw std::invalid_argument("median filter: axis must be 0 or 1, got " + std::to_string(axis));
  if (size < 1 || size % 2 == 0)
    throw std::invalid_argument("median filter: size must be a positive odd number, got " +
                                std::to_string(size));
  const int64_t length = axis == 1 ? cols : rows;
  std::vector<int64_t> positions(size_t(length + size - 1));
  for (int64_t p = 0; p < int64_t(positions.size()); ++p)
    positions[size_t(p)] = scipy_reflect_index(p - size / 2, length);
  std::vector<float> out(x.size());
  if (axis == 1)
    median_lines(x.data(), rows, cols, 1, positions, size, out.data(), cols, 1, threads);
  else
    median_lines(x.data(), cols, 1, cols, positions, size, out.data(), 1, cols, threads);
  return out;
}

}  // namespace melgrad::audio
