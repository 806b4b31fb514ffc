// libsndfile decoding and mono mixing: see decode.h.
#include "datasets/audio/decode.h"

#include <sndfile.h>

#include <memory>

#include "datasets/audio/resample.h"

namespace melgrad::audio {

Signal decode_mono(const std::string& path) {
  SF_INFO info{};
  SNDFILE* raw = sf_open(path.c_str(), SFM_READ, &info);
  if (!raw) throw AudioError(path + ": cannot decode audio: " + sf_strerror(nullptr));
  std::unique_ptr<SNDFILE, int (*)(SNDFILE*)> file(raw, sf_close);
  if (info.channels < 1 || info.samplerate <= 0)
    throw AudioError(path + ": no channels or no sample rate in the file's header");
  Signal s;
  s.sample_rate = info.samplerate;
  s.source_channels = info.channels;
  const size_t channels = size_t(info.channels);
  std::vector<float> block(4096 * channels);
  for (;;) {
    const sf_count_t got = sf_readf_float(file.get(), block.data(), 4096);
    if (got <= 0) break;
    for (sf_count_t i = 0; i < got; ++i) {
      float sum = 0.0f;
      for (size_t c = 0; c < channels; ++c) sum += block[size_t(i) * channels + c];
      s.samples.push_back(channels == 1 ? sum : sum / float(channels));
    }
  }
  if (sf_error(file.get()) != SF_ERR_NO_ERROR)
    throw AudioError(path + ": decoding failed: " + sf_strerror(file.get()));
  return s;
}

Signal load(const std::string& path, double sample_rate) {
  Signal s = decode_mono(path);
  if (s.sample_rate != sample_rate) {
    s.samples = resample(s.samples, s.sample_rate, sample_rate);
    s.sample_rate = sample_rate;
  }
  return s;
}

}  // namespace melgrad::audio
