// libsndfile decoding, mono mixing and block-wise resampling: see decode.h.
#include "datasets/audio/decode.h"

#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <span>

#include "datasets/audio/resample.h"

namespace melgrad::audio {
namespace {

constexpr sf_count_t kBlockFrames = 1 << 15;

struct SndFile {
  SF_INFO info{};
  std::unique_ptr<SNDFILE, int (*)(SNDFILE*)> file{nullptr, sf_close};
};

// libsndfile's frame count from the header, when plausible: a truncated or odd file may
// claim any count, so it is only a hint for reserving memory (at most 64 frames per byte).
int64_t frames_hint(const std::string& path, const SF_INFO& info) {
  std::error_code ec;
  const uintmax_t bytes = std::filesystem::file_size(path, ec);
  if (ec || info.frames <= 0 || uintmax_t(info.frames) > 64 * bytes) return 0;
  return info.frames;
}

SndFile open_sound(const std::string& path) {
  SndFile s;
  SNDFILE* raw = sf_open(path.c_str(), SFM_READ, &s.info);
  if (!raw) throw AudioError(path + ": cannot decode audio: " + sf_strerror(nullptr));
  s.file.reset(raw);
  if (s.info.channels < 1 || s.info.samplerate <= 0)
    throw AudioError(path + ": no channels or no sample rate in the file's header");
  return s;
}

// Reads frames [first, first + count) (count < 0: to the end) and hands each block, mixed
// to mono, to `sink`. Returns the number of frames handed over.
int64_t read_mono_blocks(const std::string& path, SndFile& s, int64_t first, int64_t count,
                         const std::function<void(std::span<const float>)>& sink) {
  const size_t channels = size_t(s.info.channels);
  std::vector<float> block(size_t(kBlockFrames) * channels);
  std::vector<float> mono(static_cast<size_t>(kBlockFrames));
  int64_t position = 0, handed = 0;
  const int64_t end = count < 0 ? std::numeric_limits<int64_t>::max() : first + count;
  while (position < end) {
    const sf_count_t got = sf_readf_float(s.file.get(), block.data(), kBlockFrames);
    if (got <= 0) break;
    const int64_t lo = std::max(position, first), hi = std::min(position + got, end);
    size_t n = 0;
    for (int64_t i = lo; i < hi; ++i, ++n) {
      const float* frame = &block[size_t(i - position) * channels];
      float sum = frame[0];
      for (size_t c = 1; c < channels; ++c) sum += frame[c];
      mono[n] = channels == 1 ? sum : sum / float(channels);
    }
    if (n > 0) sink(std::span<const float>(mono.data(), n));
    handed += int64_t(n);
    position += got;
  }
  if (sf_error(s.file.get()) != SF_ERR_NO_ERROR)
    throw AudioError(path + ": decoding failed: " + sf_strerror(s.file.get()));
  return handed;
}

Signal decode_range(const std::string& path, int64_t first, int64_t count) {
  SndFile s = open_sound(path);
  Signal out;
  out.sample_rate = out.source_sample_rate = s.info.samplerate;
  out.source_channels = s.info.channels;
  const int64_t hint = frames_hint(path, s.info);
  out.samples.reserve(size_t(count < 0 ? hint : std::min<int64_t>(count, hint)));
  read_mono_blocks(path, s, first, count, [&](std::span<const float> b) {
    out.samples.insert(out.samples.end(), b.begin(), b.end());
  });
  return out;
}

}  // namespace

Signal decode_mono(const std::string& path) { return decode_range(path, 0, -1); }

Signal decode_mono(const std::string& path, int64_t first_frame, int64_t frame_count) {
  if (first_frame < 0 || frame_count < 0)
    throw std::invalid_argument(path + ": decode range must be non-negative");
  return decode_range(path, first_frame, frame_count);
}

Signal load(const std::string& path, double sample_rate) {
  SndFile s = open_sound(path);
  Signal out;
  out.source_sample_rate = s.info.samplerate;
  out.source_channels = s.info.channels;
  out.sample_rate = sample_rate;
  int64_t frames = 0;
  if (double(s.info.samplerate) == sample_rate) {
    out.samples.reserve(size_t(frames_hint(path, s.info)));
    frames = read_mono_blocks(path, s, 0, -1, [&](std::span<const float> b) {
      out.samples.insert(out.samples.end(), b.begin(), b.end());
    });
  } else {
    StreamResampler resampler(s.info.samplerate, sample_rate);
    if (const int64_t hint = frames_hint(path, s.info); hint > 0)
      out.samples.reserve(size_t(std::ceil(double(hint) * sample_rate / s.info.samplerate)) +
                          size_t(double(kBlockFrames) * sample_rate / s.info.samplerate) + 4096);
    frames = read_mono_blocks(path, s, 0, -1,
                              [&](std::span<const float> b) { resampler.push(b, out.samples); });
    resampler.finish(out.samples);
  }
  if (frames == 0) throw AudioError(path + ": no audio samples (empty file)");
  return out;
}

}  // namespace melgrad::audio
