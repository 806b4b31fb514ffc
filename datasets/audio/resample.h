// Resampling with libsoxr, as librosa.resample(y, orig_sr, target_sr, res_type="soxr_hq").
//
// y: mono float32 [n] -> [ceil(n * target_sr / orig_sr)] (librosa's fix_length of soxr's
// output: zeros appended, or the tail cut). Quality: soxr_quality_spec(SOXR_HQ, 0), which is
// what python-soxr's "HQ" (librosa's "soxr_hq") passes to the same libsoxr 0.1.3. Like
// python-soxr, the signal is fed in blocks to one soxr_process stream that is then flushed
// (StreamResampler), which gives the same samples as one soxr_oneshot call (checked bit for
// bit at 8 kHz ... 192 kHz, see tests/audio) without libsoxr buffering the whole input. With
// `scale` the result is divided by sqrt(target_sr / orig_sr) in float64 (librosa's
// scale=True, used by the CQT's early downsampling and octave-by-octave halving).
//
// StreamResampler does the same for a signal given block by block (decode.cpp's load).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace melgrad::audio {

std::vector<float> resample(std::span<const float> y, double orig_sr, double target_sr,
                            bool scale = false);

class StreamResampler {
 public:
  StreamResampler(double orig_sr, double target_sr);
  ~StreamResampler();
  StreamResampler(const StreamResampler&) = delete;
  StreamResampler& operator=(const StreamResampler&) = delete;

  // Appends the output this block of input produces to `out`.
  void push(std::span<const float> block, std::vector<float>& out);
  // Flushes the filter's tail, then fixes `out`'s length to ceil(input_count * ratio).
  void finish(std::vector<float>& out);

 private:
  void drain(const float* in, size_t in_len, std::vector<float>& out);
  void* soxr_;  // soxr_t
  double ratio_;
  int64_t input_count_ = 0;
};

}  // namespace melgrad::audio
