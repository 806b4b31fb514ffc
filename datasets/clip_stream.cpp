// Clips read on demand from the HDF5 cache's contiguous values table (see clip_stream.h).
#include "datasets/clip_stream.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "datasets/npy.h"
#include "datasets/parallel.h"
#include "datasets/progress.h"

namespace melgrad::data {

// The cache stores float32 little-endian; reads copy the bytes as they are.
static_assert(std::endian::native == std::endian::little,
              "streamed reads of the HDF5 cache assume a little-endian host");

namespace {

// At most this many bytes per pread: a run of adjacent clips is split beyond it.
constexpr uint64_t kMaxReadBytes = uint64_t(16) << 20;

void read_exactly(int fd, void* out, uint64_t bytes, uint64_t at, const std::string& file) {
  auto* p = static_cast<char*>(out);
  while (bytes > 0) {
    const ssize_t got = ::pread(fd, p, bytes, static_cast<off_t>(at));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0)
      throw DataError(file + ": cannot read " + std::to_string(bytes) +
                      " bytes of table 'values' at byte " + std::to_string(at) +
                      (got < 0 ? ": " + std::string(std::strerror(errno))
                               : std::string(": the file is shorter")));
    p += got;
    bytes -= uint64_t(got);
    at += uint64_t(got);
  }
}

}  // namespace

CachedValues::CachedValues(const H5CacheIndex& index, Features features)
    : file_(index.file),
      address_(index.values_address),
      offsets_(index.offsets),
      crcs_(index.value_crcs),
      rows_(feature_rows(features)) {
  for (const Clip& c : index.clips) ids_.push_back(c.id);
  fd_ = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw DataError(file_ + ": cannot open the HDF5 cache: " + std::strerror(errno));
}

CachedValues::~CachedValues() {
  if (fd_ >= 0) ::close(fd_);
}

void CachedValues::set_band_stats(const std::vector<float>& mean, const std::vector<float>& std) {
  const auto F = static_cast<size_t>(feature_dim());
  if (mean.size() != F || std.size() != F)
    throw std::invalid_argument("apply_band_stats: stats have " + std::to_string(mean.size()) +
                                " bands, the data " + std::to_string(F));
  mean_ = mean;
  std_ = std;
}

std::vector<std::vector<float>> CachedValues::read(const std::vector<int64_t>& clips) const {
  std::vector<int64_t> sorted = clips;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  for (int64_t i : sorted)
    if (i < 0 || i >= clip_count())
      throw std::out_of_range("CachedValues::read: clip " + std::to_string(i) + " outside [0, " +
                              std::to_string(clip_count()) + ")");
  const int64_t F = feature_dim();
  const uint64_t row_bytes = uint64_t(kFileRows) * sizeof(float);
  std::map<int64_t, std::vector<float>> values;
  std::vector<float> buffer;
  for (size_t a = 0; a < sorted.size();) {
    // A run of adjacent clips [a, b): one read.
    size_t b = a + 1;
    while (b < sorted.size() && sorted[b] == sorted[b - 1] + 1 &&
           uint64_t(offsets_[size_t(sorted[b]) + 1] - offsets_[size_t(sorted[a])]) * row_bytes <=
               kMaxReadBytes)
      ++b;
    const int64_t first_row = offsets_[size_t(sorted[a])];
    const int64_t rows = offsets_[size_t(sorted[b - 1]) + 1] - first_row;
    buffer.resize(size_t(rows) * kFileRows);
    read_exactly(fd_, buffer.data(), uint64_t(rows) * row_bytes,
                 address_ + uint64_t(first_row) * row_bytes, file_);
    bytes_read_ += uint64_t(rows) * row_bytes;
    for (size_t k = a; k < b; ++k) {
      const auto i = size_t(sorted[k]);
      const int64_t T = offsets_[i + 1] - offsets_[i];
      const float* fused = buffer.data() + (offsets_[i] - first_row) * kFileRows;
      if (cache_crc32(fused, size_t(T) * row_bytes) != crcs_[i])
        throw DataError(
            file_ + ": the checksum of table 'values' does not match at clip " + ids_[i] +
            " (rows " + std::to_string(offsets_[i]) + " to " + std::to_string(offsets_[i + 1] - 1) +
            "); the HDF5 cache is damaged: delete it and it is rebuilt on the next run");
      std::vector<float>& v = values[int64_t(i)];
      v.resize(size_t(T * F));
      for (int64_t t = 0; t < T; ++t) {
        const float* from = fused + t * kFileRows + rows_.begin;
        float* to = v.data() + t * F;
        if (mean_.empty()) {
          std::copy_n(from, F, to);
        } else {
          for (int64_t f = 0; f < F; ++f) to[f] = (from[f] - mean_[size_t(f)]) / std_[size_t(f)];
        }
      }
    }
    clips_read_ += int64_t(b - a);
    a = b;
  }
  std::vector<std::vector<float>> out;
  out.reserve(clips.size());
  for (int64_t i : clips) out.push_back(values.at(i));
  return out;
}

StreamMode parse_stream_mode(const std::string& text) {
  if (text == "on") return StreamMode::on;
  if (text == "off") return StreamMode::off;
  if (text == "auto") return StreamMode::automatic;
  throw std::invalid_argument("expected on, off or auto, got '" + text + "'");
}

std::string stream_mode_name(StreamMode mode) {
  return mode == StreamMode::on ? "on" : mode == StreamMode::off ? "off" : "auto";
}

namespace {

// The number after `key` in a "key: value kB" file (/proc/meminfo, /proc/self/status), in
// bytes; `fallback` when absent.
uint64_t kb_field(const std::string& path, const std::string& key, uint64_t fallback) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) {
      std::istringstream rest(line.substr(key.size()));
      uint64_t kb = 0;
      if (rest >> kb) return kb * 1024;
    }
  return fallback;
}

uint64_t number_in(const std::string& path, uint64_t fallback) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return fallback;
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    return fallback;
  }
}

uint64_t left_under(uint64_t limit, uint64_t used) { return limit > used ? limit - used : 0; }

}  // namespace

uint64_t available_memory_bytes() {
  constexpr uint64_t kNone = std::numeric_limits<uint64_t>::max();
  uint64_t left = kb_field("/proc/meminfo", "MemAvailable:", kNone);
  // cgroup v2, then v1 (inside a container both name the container's own group).
  const uint64_t v2 = number_in("/sys/fs/cgroup/memory.max", kNone);
  if (v2 != kNone)
    left = std::min(left, left_under(v2, number_in("/sys/fs/cgroup/memory.current", 0)));
  const uint64_t v1 = number_in("/sys/fs/cgroup/memory/memory.limit_in_bytes", kNone);
  if (v1 < (uint64_t(1) << 60))  // v1 writes a huge number for "no limit"
    left =
        std::min(left, left_under(v1, number_in("/sys/fs/cgroup/memory/memory.usage_in_bytes", 0)));
  rlimit lim{};
  if (::getrlimit(RLIMIT_AS, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
    left = std::min(left, left_under(lim.rlim_cur, kb_field("/proc/self/status", "VmSize:", 0)));
  if (::getrlimit(RLIMIT_DATA, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
    left = std::min(left, left_under(lim.rlim_cur, kb_field("/proc/self/status", "VmData:", 0)));
  return left;
}

void attach_stream(SubsetData& data, const H5CacheIndex& index, Features features) {
  data.features = features;
  data.feature_dim = feature_rows(features).count();
  data.clips = index.clips;
  data.skipped = index.skipped;
  data.stream = std::make_shared<CachedValues>(index, features);
  data.report.value_bytes = 0;  // none held
}

namespace {

std::string gigabytes(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GB", bytes / 1e9);
  return buf;
}

// Clip lengths from the .npy headers (a gzip file inflates only its start).
std::vector<int64_t> header_frames(const SubsetIndex& scan, int threads) {
  std::vector<int64_t> frames(scan.clips.size(), 0);
  parallel_for(int64_t(frames.size()), threads, [&](int64_t i) {
    const ClipEntry& e = scan.clips[size_t(i)];
    const NpyHeader h = read_npy_header(e.path);
    if (h.shape.size() != 2 || h.shape[0] != kFileRows || h.shape[1] < 1)
      throw DataError(e.path + ": expected a clip of shape (140, T) with T >= 1, found " +
                      npy_shape_string(h.shape));
    frames[size_t(i)] = h.shape[1];
  });
  return frames;
}

// Clips of ~this many fused bytes are read (in parallel) and written per block.
constexpr uint64_t kCacheBlockBytes = uint64_t(16) << 20;

// Returns the bytes of the clip files read.
uint64_t write_cache_by_blocks(const SubsetIndex& scan, const std::vector<int64_t>& frames,
                               const std::string& cache_file, const std::string& fingerprint,
                               const LoadOptions& options) {
  H5CacheWriter writer(cache_file, fingerprint, frames);
  const int64_t n = int64_t(frames.size());
  ProgressBar bar("caching " + subset_key(scan.subset), n, options.progress);
  std::vector<Clip> block;
  std::atomic<uint64_t> source_bytes{0};
  for (int64_t begin = 0; begin < n;) {
    int64_t end = begin;
    uint64_t bytes = 0;
    while (end < n && (end == begin || bytes < kCacheBlockBytes))
      bytes += uint64_t(frames[size_t(end++)]) * kFileRows * sizeof(float);
    block.assign(size_t(end - begin), Clip{});
    parallel_for(end - begin, options.threads, [&](int64_t k) {
      stop_if_cancelled(options.cancelled);  // the writer's destructor removes its temp file
      uint64_t file_bytes = 0;
      block[size_t(k)] = read_clip(scan.clips[size_t(begin + k)], Features::fused, &file_bytes);
      bar.advance(1, file_bytes);
      source_bytes += file_bytes;
    });
    for (int64_t k = 0; k < end - begin; ++k) {
      const Clip& c = block[size_t(k)];
      if (c.frames != frames[size_t(begin + k)])
        throw DataError(c.path + ": its header said " + std::to_string(frames[size_t(begin + k)]) +
                        " frames, its data " + std::to_string(c.frames) +
                        " (was it changed while read?)");
      writer.write_clip(size_t(begin + k), c);
    }
    begin = end;
  }
  block.clear();
  writer.finish(scan.skipped);
  return source_bytes.load();
}

}  // namespace

bool load_streamed(const std::string& data_dir, Subset subset, const LoadOptions& options,
                   const std::string& cache_file, const std::string& fingerprint,
                   const H5CacheIndex* cached, SubsetData& out) {
  if (options.stream == StreamMode::off) return false;
  SubsetIndex scan;
  std::vector<int64_t> frames;
  uint64_t fused_bytes = 0;
  if (cached) {
    fused_bytes = uint64_t(cached->offsets.back()) * kFileRows * sizeof(float);
  } else {
    scan = scan_subset(data_dir, subset, options.strict);
    frames = header_frames(scan, options.threads);
    for (int64_t t : frames) fused_bytes += uint64_t(t) * kFileRows * sizeof(float);
  }
  bool stream = true;
  if (options.stream == StreamMode::on) {
    out.report.stream_reason = "--stream on";
  } else {
    const double needed = kInMemoryPeakFactor * double(fused_bytes);
    const double left = double(available_memory_bytes());
    stream = needed > left;
    out.report.stream_reason = "--stream auto: " + gigabytes(double(fused_bytes)) +
                               " of features take ~" + gigabytes(needed) + " in memory, " +
                               (stream ? "more than" : "within") + " the " + gigabytes(left) +
                               " this process may use";
  }
  if (!stream) return false;
  H5CacheIndex index;
  if (cached) {
    index = *cached;
  } else {
    out.report.source_bytes = write_cache_by_blocks(scan, frames, cache_file, fingerprint, options);
    std::string damage;
    if (!read_h5_cache_index(cache_file, fingerprint, index, &damage))
      throw DataError(cache_file + ": the HDF5 cache just written cannot be read back" +
                      (damage.empty() ? std::string() : " (" + damage + ")"));
  }
  out.subset = subset;
  attach_stream(out, index, options.features);
  out.report.streamed = true;
  out.report.cache_file = cache_file;
  out.report.from_cache = cached != nullptr;
  return true;
}

}  // namespace melgrad::data
