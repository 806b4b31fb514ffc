// libsoxr resampling: see resample.h.
#include "datasets/audio/resample.h"

#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace melgrad::audio {
namespace {

void check_rates(double orig_sr, double target_sr) {
  if (!(orig_sr > 0) || !(target_sr > 0))
    throw std::invalid_argument("resample: sample rates must be positive, got " +
                                std::to_string(orig_sr) + " -> " + std::to_string(target_sr));
}

size_t fixed_length(int64_t n, double ratio) { return size_t(std::ceil(double(n) * ratio)); }

}  // namespace

std::vector<float> resample(std::span<const float> y, double orig_sr, double target_sr,
                            bool scale) {
  check_rates(orig_sr, target_sr);
  const double ratio = target_sr / orig_sr;
  std::vector<float> out;
  out.reserve(fixed_length(int64_t(y.size()), ratio) + 64);
  // Fed in blocks, as python-soxr does, so libsoxr never buffers the whole input.
  StreamResampler stream(orig_sr, target_sr);
  constexpr size_t kBlock = size_t(1) << 16;
  for (size_t start = 0; start < y.size(); start += kBlock)
    stream.push(y.subspan(start, std::min(kBlock, y.size() - start)), out);
  stream.finish(out);
  if (scale) {  // librosa: y_hat /= np.sqrt(ratio), a float64 divisor on a float32 array
    const double divisor = std::sqrt(ratio);
    for (float& v : out) v = float(double(v) / divisor);
  }
  return out;
}

StreamResampler::StreamResampler(double orig_sr, double target_sr) : ratio_(target_sr / orig_sr) {
  check_rates(orig_sr, target_sr);
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  soxr_error_t err = nullptr;
  soxr_ = soxr_create(orig_sr, target_sr, 1, &err, &io, &quality, nullptr);
  if (err) throw std::runtime_error(std::string("resample: libsoxr failed: ") + err);
}

StreamResampler::~StreamResampler() { soxr_delete(static_cast<soxr_t>(soxr_)); }

void StreamResampler::drain(const float* in, size_t in_len, std::vector<float>& out) {
  // soxr_process may not take all input or give all output at once: loop until the block is
  // consumed (or, when flushing, until no more output comes).
  const size_t room = size_t(double(in_len) * ratio_) + 1024;
  for (;;) {
    const size_t before = out.size();
    out.resize(before + room);
    size_t used = 0, made = 0;
    const soxr_error_t err = soxr_process(static_cast<soxr_t>(soxr_), in, in_len, &used,
                                          out.data() + before, room, &made);
    out.resize(before + made);
    if (err) throw std::runtime_error(std::string("resample: libsoxr failed: ") + err);
    if (in) {
      if (used == 0 && made == 0)
        throw std::runtime_error("resample: libsoxr took no input and gave no output");
      in += used;
      in_len -= used;
      if (in_len == 0) return;
    } else if (made == 0) {
      return;
    }
  }
}

void StreamResampler::push(std::span<const float> block, std::vector<float>& out) {
  if (block.empty()) return;
  input_count_ += int64_t(block.size());
  drain(block.data(), block.size(), out);
}

void StreamResampler::finish(std::vector<float>& out) {
  if (input_count_ > 0) drain(nullptr, 0, out);
  out.resize(fixed_length(input_count_, ratio_), 0.0f);
}

}  // namespace melgrad::audio
