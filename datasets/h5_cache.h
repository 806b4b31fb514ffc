// The HDF5 cache of loaded sub-sets, so that a second run starts in seconds.
//
// One file per sub-set and data folder: <cache_dir>/<subset key>-<16 hex digits of the
// absolute sub-folder path>.h5, written atomically (temp file + rename). Contents, all
// float32 values fused (140 bands, so any feature selection reads from the same file):
//   values   float32 [total_frames, 140]   clips concatenated along time, [T, 140] each
//   offsets  int64   [N + 1]               clip i is rows offsets[i] .. offsets[i+1]
//   labels   int64   [N]                   genre class or -1
//   targets  float32 [N, 3]                valence, energy, danceability (NaN = none)
//   clips    uint8   text, one line per clip: id TAB source(0/1) TAB label_line TAB path
//   skipped  uint8   text, one line per skipped row: file TAB line TAB id TAB reason
//   value_crcs uint32 [N]                  CRC-32 of clip i's float32 values ([T, 140] bytes)
//   fingerprint uint8 text; format uint8 text ("melgrad-h5-cache v3")
//   checksums uint8 text, one line per table: name SPACE CRC-32 in 8 hex digits, for
//               offsets, labels, targets, clips, skipped and value_crcs
// 'values' is stored contiguous (HDF5's default layout), so a streamed read (clip_stream.h)
// reads a clip's bytes at the table's file address without the HDF5 library, from any
// thread. The fingerprint hashes the names, sizes and modification times (ns) of the label
// files and of every file in train/ and test/; any change invalidates the cache. The
// checksums are checked on every read, the values one clip at a time (so a streamed read of
// a few clips is checked too): a damaged table (bit flips, edited values) fails the read,
// naming the table (and the clip), and the caller rebuilds the cache or reports it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/patreco3.h"

namespace melgrad::data {

// CRC-32 (zlib's) of bytes, continuing from `crc` (0 to start).
uint32_t cache_crc32(const void* data, size_t bytes, uint32_t crc = 0);

// Hex digest over the label files and the train/ and test/ listings of `root`.
std::string subset_fingerprint(const std::string& root);

// <cache_dir>/<key>-<hash of absolute root>.h5
std::string cache_file_for(const std::string& cache_dir, const std::string& root, Subset subset);

// Fills `out` (clips narrowed to `features`) from the cache file when it exists, was
// written by this version, has the same fingerprint and passes its checksums; returns
// false otherwise (the caller then reloads and rewrites it). When the file is there but
// unreadable or damaged, `damage` (if given) says what is wrong, naming the table.
bool read_h5_cache(const std::string& file, const std::string& fingerprint, Features features,
                   SubsetData& out, std::string* damage = nullptr,
                   const CancelCheck& cancelled = {});

// Writes fused data (feature_dim 140) atomically; throws DataError on failure.
void write_h5_cache(const std::string& file, const std::string& fingerprint,
                    const SubsetData& fused, const CancelCheck& cancelled = {});

// Writes a cache file a clip at a time, so that a sub-set larger than memory is cached a
// block of clips at a time (load_subset with streaming). The lengths are known up front
// (from the .npy headers); every clip must be written once before finish(), which writes
// the other tables and renames the temp file into place. Without finish() the destructor
// removes the temp file. HDF5 calls: the constructing thread only.
class H5CacheWriter {
 public:
  H5CacheWriter(std::string file, std::string fingerprint, const std::vector<int64_t>& frames);
  ~H5CacheWriter();
  H5CacheWriter(const H5CacheWriter&) = delete;
  H5CacheWriter& operator=(const H5CacheWriter&) = delete;
  void write_clip(size_t index, const Clip& fused);  // values [T, 140]
  void finish(const std::vector<SkippedRow>& skipped);

 private:
  void close_handles();
  std::string file_, tmp_, fingerprint_;
  std::vector<int64_t> offsets_;
  std::vector<uint32_t> crcs_;
  std::vector<bool> written_;
  std::vector<int64_t> labels_;
  std::vector<float> targets_;
  std::vector<std::string> lines_;
  int64_t file_id_ = -1, values_space_ = -1, values_ = -1;  // hid_t
  bool finished_ = false;
};

// A cache file's tables without its values, and where the values lie in the file.
struct H5CacheIndex {
  std::string file;
  std::vector<Clip> clips;  // values empty; frames, labels, targets, ids, paths
  std::vector<SkippedRow> skipped;
  std::vector<int64_t> offsets;      // [N + 1] rows of 'values'
  std::vector<uint32_t> value_crcs;  // [N]
  uint64_t values_address = 0;       // file offset of 'values': float32 little-endian [rows, 140]
};
// As read_h5_cache, without reading 'values' (its per-clip checksums are checked when the
// clips are read).
bool read_h5_cache_index(const std::string& file, const std::string& fingerprint, H5CacheIndex& out,
                         std::string* damage = nullptr);
// "the checksum of table 'values' does not match at clip ID (rows a to b)"
std::string values_damage(const H5CacheIndex& index, size_t clip);

}  // namespace melgrad::data
