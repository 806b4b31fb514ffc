// Helpers for the audio tests: where the Debian music and the librosa fixtures are, reading a
// gzip'd .npy fixture, writing test audio with libsndfile, and diff statistics.
#pragma once

#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "datasets/npy.h"

namespace melgrad::audio::testing {

inline const std::string kMusicDir = "/usr/share/planetblupi/music";
inline const std::string kFixtureDir =
    std::string(MELGRAD_SOURCE_DIR) + "/tests/fixtures/audio/audio";

inline std::string music_track(const std::string& name) { return kMusicDir + "/" + name + ".ogg"; }

inline data::NpyArray fixture(const std::string& name) {
  return data::read_npy(kFixtureDir + "/" + name + ".npy.gz");
}

// Writes interleaved float frames [frames, channels] with libsndfile in `format`
// (e.g. SF_FORMAT_WAV | SF_FORMAT_FLOAT, SF_FORMAT_OGG | SF_FORMAT_VORBIS).
inline void write_sound(const std::string& path, const std::vector<float>& interleaved,
                        int channels, int sample_rate, int format) {
  SF_INFO info{};
  info.channels = channels;
  info.samplerate = sample_rate;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!f) throw std::runtime_error(path + ": cannot write: " + sf_strerror(nullptr));
  const sf_count_t frames = sf_count_t(interleaved.size() / size_t(channels));
  const sf_count_t wrote = frames ? sf_writef_float(f, interleaved.data(), frames) : 0;
  sf_close(f);
  if (wrote != frames) throw std::runtime_error(path + ": short write");
}

// A test tone per channel: channel c is a sine of 220 (c + 1) Hz with amplitude 0.1 (c + 1).
inline std::vector<float> tones(int64_t frames, int channels, double sample_rate) {
  std::vector<float> x(size_t(frames * channels));
  for (int64_t i = 0; i < frames; ++i)
    for (int c = 0; c < channels; ++c)
      x[size_t(i * channels + c)] =
          float(0.1 * (c + 1) * std::sin(2 * M_PI * 220.0 * (c + 1) * double(i) / sample_rate));
  return x;
}

struct DiffStats {
  double max = 0, p999 = 0;
};

inline DiffStats diff_stats(std::span<const float> a, std::span<const float> b) {
  if (a.size() != b.size())
    throw std::runtime_error("diff_stats: sizes " + std::to_string(a.size()) + " vs " +
                             std::to_string(b.size()));
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = std::abs(double(a[i]) - double(b[i]));
  if (d.empty()) return {};
  DiffStats s;
  s.max = *std::max_element(d.begin(), d.end());
  const size_t k = std::min(d.size() - 1, size_t(std::ceil(0.999 * double(d.size() - 1))));
  std::nth_element(d.begin(), d.begin() + std::ptrdiff_t(k), d.end());
  s.p999 = d[k];
  return s;
}

}  // namespace melgrad::audio::testing
