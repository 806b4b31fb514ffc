// Blocks of centred STFT frames: see stft_frames.h.
#include "datasets/audio/stft_frames.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace melgrad::audio {

int64_t centred_frame_count(int64_t n, int64_t n_fft, int64_t hop) {
  return 1 + (n + 2 * (n_fft / 2) - n_fft) / hop;
}

Spectrum stft_frames(std::span<const float> y, int64_t first, int64_t count, int64_t n_fft,
                     int64_t hop) {
  const int64_t n = int64_t(y.size());
  if (n_fft < 2 || hop < 1 || first < 0 || count < 1 ||
      first + count > centred_frame_count(n, n_fft, hop))
    throw std::invalid_argument("stft_frames: frames [" + std::to_string(first) + ", " +
                                std::to_string(first + count) + ") are not all in the STFT of " +
                                std::to_string(n) + " samples");
  const int64_t start = first * hop - n_fft / 2;  // signal index of the block's first sample
  std::vector<float> block(static_cast<size_t>((count - 1) * hop + n_fft), 0.0f);
  for (int64_t i = 0; i < int64_t(block.size()); ++i) {
    const int64_t j = start + i;
    if (j >= 0 && j < n) block[size_t(i)] = y[size_t(j)];
  }
  return stft(block, {.n_fft = n_fft, .hop = hop, .window = Window::hann, .center = false});
}

}  // namespace melgrad::audio
