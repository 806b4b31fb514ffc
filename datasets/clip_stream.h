// Streaming a sub-set from its HDF5 cache instead of holding it in memory (issue 18).
//
// A streamed SubsetData holds every clip's metadata (id, path, frames, label, targets) but
// no values; SubsetData::stream reads them on demand:
//   make_batch          reads the batch's clips (batcher.h)
//   Batcher             builds the next batches on a prefetch thread, in an order shuffled
//                       by chunk and then within each chunk (so reads stay near each other
//                       in the file), each data-parallel rank reading only its shard
//   compute_band_stats  one pass over the clips, a block at a time (splits.h)
//   apply_band_stats    keeps the statistics; every read standardises with them
// Reads go straight to the bytes of the cache's contiguous 'values' table (pread, no HDF5
// call, so any thread may read); adjacent clips are read with one call, and each clip's
// CRC-32 is checked against the cache's 'value_crcs' (a mismatch is a DataError naming the
// cache file and the clip). Peak memory is then the metadata, the model and a few batches,
// whatever the size of the data set (docs/DATASET.md has the measurements).
//
// Values read are float32 [T, F] time-major, F = the features' rows of the fused [T, 140]
// (patreco3.h), as an in-memory clip's; standardised as apply_band_stats does, bit for bit.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/h5_cache.h"
#include "datasets/patreco3.h"

namespace melgrad::data {

class CachedValues {
 public:
  CachedValues(const H5CacheIndex& index, Features features);  // opens index.file
  ~CachedValues();
  CachedValues(const CachedValues&) = delete;
  CachedValues& operator=(const CachedValues&) = delete;

  // The values of each clip (indices into the cache's clips, any order; duplicates allowed),
  // narrowed to the features and standardised when band statistics are set. Thread-safe.
  std::vector<std::vector<float>> read(const std::vector<int64_t>& clips) const;

  // x <- (x - mean) / std on every later read; per band, [F] each.
  void set_band_stats(const std::vector<float>& mean, const std::vector<float>& std);

  const std::string& file() const { return file_; }
  int64_t feature_dim() const { return rows_.count(); }
  int64_t clip_count() const { return int64_t(crcs_.size()); }
  int64_t frames(int64_t clip) const {
    return offsets_.at(size_t(clip) + 1) - offsets_[size_t(clip)];
  }
  const std::vector<uint32_t>& value_crcs() const { return crcs_; }
  // Clips read so far (each read of a clip counts; tests check a rank's reads).
  int64_t clips_read() const { return clips_read_.load(); }
  uint64_t bytes_read() const { return bytes_read_.load(); }

 private:
  std::string file_;
  int fd_ = -1;
  uint64_t address_ = 0;
  std::vector<int64_t> offsets_;
  std::vector<uint32_t> crcs_;
  std::vector<std::string> ids_;
  FeatureRows rows_;
  std::vector<float> mean_, std_;
  mutable std::atomic<int64_t> clips_read_{0};
  mutable std::atomic<uint64_t> bytes_read_{0};
};

// StreamMode (patreco3.h): `on`, `off`, or `automatic` (stream when holding the set in
// memory would take more than the memory the process may still use).
StreamMode parse_stream_mode(const std::string& text);  // "on" | "off" | "auto"
std::string stream_mode_name(StreamMode mode);

// Bytes this process may still allocate: the least of MemAvailable (/proc/meminfo), the
// cgroup's memory limit less its usage, and the address-space and data limits
// (RLIMIT_AS, RLIMIT_DATA) less what is already mapped.
uint64_t available_memory_bytes();

// What loading a sub-set into memory takes at its peak, measured (docs/DATASET.md):
// kInMemoryPeakFactor times the fused float32 bytes of its clips.
constexpr double kInMemoryPeakFactor = 4.0;

// Streams `data` from `index` (clips' metadata from the index, values on demand).
void attach_stream(SubsetData& data, const H5CacheIndex& index, Features features);

// load_subset's streaming branch. Decides from options.stream (automatic: the fused bytes
// of the clips, from the valid cache's index `cached` or else from the .npy headers, times
// kInMemoryPeakFactor against available_memory_bytes()); when streaming, fills `out` (clips
// without values, skipped rows, stream, report) from the cache, first writing the cache a
// block of clips at a time if `cached` is null. Returns whether it streams; either way
// out.report.stream_reason says why.
bool load_streamed(const std::string& data_dir, Subset subset, const LoadOptions& options,
                   const std::string& cache_file, const std::string& fingerprint,
                   const H5CacheIndex* cached, SubsetData& out);

}  // namespace melgrad::data
