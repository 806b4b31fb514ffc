// libsoxr resampling: see resample.h.
#include "datasets/audio/resample.h"

#include <soxr.h>

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
  const size_t n_out = fixed_length(int64_t(y.size()), ratio);
  std::vector<float> out(n_out);
  if (y.empty()) return out;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  size_t done = 0;
  const soxr_error_t err = soxr_oneshot(orig_sr, target_sr, 1, y.data(), y.size(), nullptr,
                                        out.data(), n_out, &done, &io, &quality, nullptr);
  if (err) throw std::runtime_error(std::string("resample: libsoxr failed: ") + err);
  out.resize(done);
  out.resize(n_out, 0.0f);  // librosa's fix_length: pad with zeros (or trim) to ceil(n * ratio)
  if (scale) {
    const float s = float(1.0 / std::sqrt(ratio));
    for (float& v : out) v *= s;
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
