// HDF5 cache of loaded sub-sets (see h5_cache.h for the file layout). HDF5 is used from
// the calling thread only (the Debian library is not built thread-safe).
#include "datasets/h5_cache.h"

#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>
#include <tuple>

#include "datasets/rng.h"

namespace fs = std::filesystem;

namespace melgrad::data {

uint32_t cache_crc32(const void* data, size_t bytes, uint32_t crc) {
  const auto* p = static_cast<const Bytef*>(data);
  while (bytes > 0) {  // crc32 takes a uInt length
    const auto chunk = static_cast<uInt>(std::min<size_t>(bytes, size_t(1) << 30));
    crc = static_cast<uint32_t>(crc32(crc, p, chunk));
    p += chunk;
    bytes -= chunk;
  }
  return crc;
}

namespace {

constexpr char kFormat[] = "melgrad-h5-cache v3";

// Owns one HDF5 handle and closes it with the matching function.
class H5Handle {
 public:
  H5Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~H5Handle() {
    if (id_ >= 0) close_(id_);
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

void quiet_hdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

std::string hex32(uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// --- writing ---------------------------------------------------------------------------

void write_dataset(hid_t file, const char* name, hid_t file_type, hid_t mem_type,
                   const std::vector<hsize_t>& dims, const void* data, const std::string& path) {
  H5Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  H5Handle ds(H5Dcreate2(file, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose);
  if (!space.ok() || !ds.ok()) throw DataError(path + ": cannot create dataset '" + name + "'");
  size_t count = 1;
  for (hsize_t d : dims) count *= d;
  if (count > 0 && H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    throw DataError(path + ": cannot write dataset '" + name + "'");
}

void write_text(hid_t file, const char* name, const std::string& text, const std::string& path) {
  write_dataset(file, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, {text.size()}, text.data(), path);
}

// --- reading ---------------------------------------------------------------------------

bool read_whole(hid_t file, const char* name, hid_t mem_type, size_t elem_size,
                std::vector<uint8_t>& out, std::vector<hsize_t>* dims_out = nullptr) {
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) return false;
  H5Handle ds(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) return false;
  H5Handle space(H5Dget_space(ds.get()), H5Sclose);
  const int nd = H5Sget_simple_extent_ndims(space.get());
  if (nd < 1 || nd > 2) return false;
  std::vector<hsize_t> dims(static_cast<size_t>(nd));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  size_t count = 1;
  for (hsize_t d : dims) count *= d;
  hsize_t file_bytes = 0;  // no filters: a table cannot hold more bytes than its file
  if (H5Fget_filesize(file, &file_bytes) < 0 || count > file_bytes / elem_size) return false;
  out.assign(count * elem_size, 0);
  if (count > 0 && H5Dread(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
    return false;
  if (dims_out) *dims_out = dims;
  return true;
}

bool read_text(hid_t file, const char* name, std::string& out) {
  std::vector<uint8_t> bytes;
  if (!read_whole(file, name, H5T_NATIVE_UINT8, 1, bytes)) return false;
  out.assign(bytes.begin(), bytes.end());
  return true;
}

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> f;
  std::stringstream ss(line);
  std::string x;
  while (std::getline(ss, x, '\t')) f.push_back(x);
  return f;
}

// A label-file line number written by write_h5_cache: digits only, in range, >= 1.
bool parse_line_number(const std::string& text, int64_t& out) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end && out >= 1;
}

}  // namespace

std::string subset_fingerprint(const std::string& root) {
  std::vector<std::string> names = {"train_labels.txt", "test_labels.txt"};
  for (const char* folder : {"train", "test"}) {
    std::vector<std::string> entries;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(root + "/" + folder, ec))
      entries.push_back(std::string(folder) + "/" + e.path().filename().string());
    std::sort(entries.begin(), entries.end());
    names.insert(names.end(), entries.begin(), entries.end());
  }
  uint64_t h = fnv1a64(kFormat);
  size_t present = 0;
  for (const std::string& n : names) {
    struct stat st {};
    if (::stat((root + "/" + n).c_str(), &st) != 0) continue;
    ++present;
    const std::string rec = n + "|" + std::to_string(st.st_size) + "|" +
                            std::to_string(st.st_mtim.tv_sec) + "." +
                            std::to_string(st.st_mtim.tv_nsec) + "\n";
    h = fnv1a64(rec, h);
  }
  return hex64(h) + "-" + std::to_string(present);
}

std::string cache_file_for(const std::string& cache_dir, const std::string& root, Subset subset) {
  std::error_code ec;
  fs::path abs = fs::weakly_canonical(fs::absolute(root), ec);
  if (ec) abs = fs::absolute(root);
  return (fs::path(cache_dir) / (subset_key(subset) + "-" + hex64(fnv1a64(abs.string())) + ".h5"))
      .string();
}

H5CacheWriter::H5CacheWriter(std::string file, std::string fingerprint,
                             const std::vector<int64_t>& frames)
    : file_(std::move(file)),
      tmp_(file_ + ".tmp-" + std::to_string(::getpid())),
      fingerprint_(std::move(fingerprint)),
      offsets_(frames.size() + 1, 0),
      crcs_(frames.size(), 0),
      written_(frames.size(), false),
      labels_(frames.size(), -1),
      targets_(frames.size() * 3, kNoTarget),
      lines_(frames.size()) {
  quiet_hdf5();
  std::error_code ec;
  fs::create_directories(fs::path(file_).parent_path(), ec);
  if (ec)
    throw DataError("cannot create cache folder '" + fs::path(file_).parent_path().string() +
                    "': " + ec.message());
  for (size_t i = 0; i < frames.size(); ++i) {
    if (frames[i] < 1) throw std::logic_error("H5CacheWriter: a clip without frames");
    offsets_[i + 1] = offsets_[i] + frames[i];
  }
  file_id_ = H5Fcreate(tmp_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file_id_ < 0) throw DataError("cannot create cache file '" + tmp_ + "'");
  const hsize_t dims[2] = {static_cast<hsize_t>(offsets_.back()), static_cast<hsize_t>(kFileRows)};
  values_space_ = H5Screate_simple(2, dims, nullptr);
  // Contiguous (the default layout): streamed reads address its bytes directly.
  values_ = H5Dcreate2(file_id_, "values", H5T_IEEE_F32LE, values_space_, H5P_DEFAULT, H5P_DEFAULT,
                       H5P_DEFAULT);
  if (values_space_ < 0 || values_ < 0) {  // the destructor does not run: clean up here
    close_handles();
    fs::remove(tmp_, ec);
    throw DataError(tmp_ + ": cannot create dataset 'values'");
  }
}

H5CacheWriter::~H5CacheWriter() {
  close_handles();
  if (!finished_) {
    std::error_code ec;
    fs::remove(tmp_, ec);
  }
}

void H5CacheWriter::close_handles() {
  if (values_ >= 0) H5Dclose(values_);
  if (values_space_ >= 0) H5Sclose(values_space_);
  if (file_id_ >= 0) H5Fclose(file_id_);
  values_ = values_space_ = file_id_ = -1;
}

void H5CacheWriter::write_clip(size_t i, const Clip& c) {
  if (i >= crcs_.size() || c.frames != offsets_[i + 1] - offsets_[i] ||
      c.values.size() != static_cast<size_t>(c.frames * kFileRows))
    throw std::logic_error("H5CacheWriter::write_clip: clip " + c.id +
                           " does not match the frames given for it");
  const hsize_t start[2] = {static_cast<hsize_t>(offsets_[i]), 0};
  const hsize_t count[2] = {static_cast<hsize_t>(c.frames), static_cast<hsize_t>(kFileRows)};
  H5Sselect_hyperslab(values_space_, H5S_SELECT_SET, start, nullptr, count, nullptr);
  H5Handle mem(H5Screate_simple(2, count, nullptr), H5Sclose);
  if (H5Dwrite(values_, H5T_NATIVE_FLOAT, mem.get(), values_space_, H5P_DEFAULT, c.values.data()) <
      0)
    throw DataError(tmp_ + ": cannot write the values of clip " + c.id);
  crcs_[i] = cache_crc32(c.values.data(), c.values.size() * sizeof(float));
  written_[i] = true;
  labels_[i] = c.label;
  std::copy(c.targets.begin(), c.targets.end(),
            targets_.begin() + static_cast<std::ptrdiff_t>(3 * i));
  lines_[i] = c.id + "\t" + std::to_string(static_cast<int>(c.source)) + "\t0\t" + c.path + "\n";
}

void H5CacheWriter::finish(const std::vector<SkippedRow>& skipped) {
  for (size_t i = 0; i < written_.size(); ++i)
    if (!written_[i])
      throw std::logic_error("H5CacheWriter::finish: clip " + std::to_string(i) + " not written");
  std::string clips_text, skipped_text;
  for (const std::string& line : lines_) clips_text += line;
  for (const SkippedRow& s : skipped)
    skipped_text +=
        s.label_file + "\t" + std::to_string(s.line) + "\t" + s.id + "\t" + s.reason + "\n";
  const hid_t f = file_id_;
  const size_t n = crcs_.size();
  write_text(f, "format", kFormat, tmp_);
  write_text(f, "fingerprint", fingerprint_, tmp_);
  write_text(f, "clips", clips_text, tmp_);
  write_text(f, "skipped", skipped_text, tmp_);
  auto line = [](const char* table, uint32_t crc) {
    return std::string(table) + " " + hex32(crc) + "\n";
  };
  const std::string checksums =
      line("offsets", cache_crc32(offsets_.data(), offsets_.size() * 8)) +
      line("labels", cache_crc32(labels_.data(), labels_.size() * 8)) +
      line("targets", cache_crc32(targets_.data(), targets_.size() * 4)) +
      line("clips", cache_crc32(clips_text.data(), clips_text.size())) +
      line("skipped", cache_crc32(skipped_text.data(), skipped_text.size())) +
      line("value_crcs", cache_crc32(crcs_.data(), crcs_.size() * 4));
  write_text(f, "checksums", checksums, tmp_);
  write_dataset(f, "offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, {n + 1}, offsets_.data(), tmp_);
  write_dataset(f, "labels", H5T_STD_I64LE, H5T_NATIVE_INT64, {n}, labels_.data(), tmp_);
  write_dataset(f, "targets", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {n, 3}, targets_.data(), tmp_);
  write_dataset(f, "value_crcs", H5T_STD_U32LE, H5T_NATIVE_UINT32, {n}, crcs_.data(), tmp_);
  close_handles();
  std::error_code ec;
  fs::rename(tmp_, file_, ec);
  if (ec) throw DataError("cannot rename '" + tmp_ + "' to '" + file_ + "'");
  finished_ = true;
}

void write_h5_cache(const std::string& file, const std::string& fingerprint,
                    const SubsetData& fused, const CancelCheck& cancelled) {
  if (fused.feature_dim != kFileRows) throw std::logic_error("write_h5_cache expects fused clips");
  std::vector<int64_t> frames;
  for (const Clip& c : fused.clips) frames.push_back(c.frames);
  H5CacheWriter writer(file, fingerprint, frames);
  for (size_t i = 0; i < fused.clips.size(); ++i) {
    stop_if_cancelled(cancelled);  // the writer's destructor removes its temp file
    writer.write_clip(i, fused.clips[i]);
  }
  writer.finish(fused.skipped);
}

bool read_h5_cache_index(const std::string& file, const std::string& fingerprint, H5CacheIndex& out,
                         std::string* damage) {
  if (!fs::is_regular_file(file)) return false;
  quiet_hdf5();
  auto damaged = [&](const std::string& why) {
    if (damage) *damage = why;
    return false;
  };
  H5Handle f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!f.ok()) return damaged("not a readable HDF5 file");
  std::string format, fp, clips_text, skipped_text, checksum_text;
  if (!read_text(f.get(), "format", format)) return damaged("table 'format' is unreadable");
  if (format != kFormat) return false;  // another version: rebuilt quietly
  if (!read_text(f.get(), "fingerprint", fp)) return damaged("table 'fingerprint' is unreadable");
  if (fp != fingerprint) return false;  // the data changed: rebuilt quietly
  std::vector<uint8_t> off_b, lab_b, tgt_b, crc_b;
  for (const auto& [name, text] :
       {std::pair{"checksums", &checksum_text}, {"clips", &clips_text}, {"skipped", &skipped_text}})
    if (!read_text(f.get(), name, *text))
      return damaged(std::string("table '") + name + "' is unreadable");
  for (const auto& [name, type, size, bytes] : {std::tuple{"offsets", H5T_NATIVE_INT64, 8, &off_b},
                                                {"labels", H5T_NATIVE_INT64, 8, &lab_b},
                                                {"targets", H5T_NATIVE_FLOAT, 4, &tgt_b},
                                                {"value_crcs", H5T_NATIVE_UINT32, 4, &crc_b}})
    if (!read_whole(f.get(), name, type, size_t(size), *bytes))
      return damaged(std::string("table '") + name + "' is unreadable");
  std::map<std::string, std::string> expected;  // table -> CRC-32 hex
  {
    std::stringstream ss(checksum_text);
    std::string name, crc;
    while (ss >> name >> crc) expected[name] = crc;
  }
  const std::pair<const char*, uint32_t> tables[] = {
      {"offsets", cache_crc32(off_b.data(), off_b.size())},
      {"labels", cache_crc32(lab_b.data(), lab_b.size())},
      {"targets", cache_crc32(tgt_b.data(), tgt_b.size())},
      {"clips", cache_crc32(clips_text.data(), clips_text.size())},
      {"skipped", cache_crc32(skipped_text.data(), skipped_text.size())},
      {"value_crcs", cache_crc32(crc_b.data(), crc_b.size())}};
  for (const auto& [name, crc] : tables)
    if (expected[name] != hex32(crc))
      return damaged(std::string("the checksum of table '") + name + "' does not match");
  const size_t n = lab_b.size() / 8;
  if (off_b.size() != (n + 1) * 8 || tgt_b.size() != n * 12 || crc_b.size() != n * 4)
    return damaged(
        "tables 'offsets', 'labels', 'targets' and 'value_crcs' disagree on the number of clips");
  const auto* offsets = reinterpret_cast<const int64_t*>(off_b.data());
  const auto* labels = reinterpret_cast<const int64_t*>(lab_b.data());
  const auto* targets = reinterpret_cast<const float*>(tgt_b.data());
  std::vector<std::string> lines;
  {
    std::stringstream ss(clips_text);
    std::string line;
    while (std::getline(ss, line)) lines.push_back(line);
  }
  if (lines.size() != n) return damaged("table 'clips' does not list one line per clip");

  H5Handle ds(H5Dopen2(f.get(), "values", H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) return damaged("table 'values' is unreadable");
  H5Handle space(H5Dget_space(ds.get()), H5Sclose);
  hsize_t dims[2] = {0, 0};
  if (H5Sget_simple_extent_ndims(space.get()) != 2) return damaged("table 'values' is not 2-D");
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  if (offsets[0] != 0 || dims[1] != static_cast<hsize_t>(kFileRows) ||
      static_cast<int64_t>(dims[0]) != offsets[n])
    return damaged("table 'offsets' does not match the shape of 'values'");
  for (size_t i = 0; i < n; ++i)
    if (offsets[i + 1] <= offsets[i]) return damaged("table 'offsets' is not increasing");
  const haddr_t address = H5Dget_offset(ds.get());
  hsize_t file_bytes = 0;
  const uint64_t value_bytes = uint64_t(dims[0]) * dims[1] * sizeof(float);
  if (address == HADDR_UNDEF || H5Fget_filesize(f.get(), &file_bytes) < 0 ||
      address + value_bytes > file_bytes)
    return damaged("table 'values' is not stored in one piece within the file");

  H5CacheIndex index;
  index.file = file;
  index.values_address = address;
  index.offsets.assign(offsets, offsets + n + 1);
  index.value_crcs.resize(n);
  std::memcpy(index.value_crcs.data(), crc_b.data(), crc_b.size());
  index.clips.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const auto fields = split_fields(lines[i]);
    if (fields.size() != 4) return damaged("table 'clips' has a malformed line");
    Clip& c = index.clips[i];
    c.id = fields[0];
    c.source = fields[1] == "1" ? ClipSource::test_folder : ClipSource::train_folder;
    c.path = fields[3];
    c.label = labels[i];
    std::copy(targets + 3 * i, targets + 3 * i + 3, c.targets.begin());
    c.frames = offsets[i + 1] - offsets[i];
  }
  std::stringstream ss(skipped_text);
  std::string line;
  while (std::getline(ss, line)) {
    const auto fields = split_fields(line);
    int64_t row_line = 0;
    if (fields.size() != 4 || !parse_line_number(fields[1], row_line))
      return damaged("table 'skipped' has a malformed line");
    index.skipped.push_back({fields[0], row_line, fields[2], fields[3]});
  }
  out = std::move(index);
  return true;
}

std::string values_damage(const H5CacheIndex& index, size_t clip) {
  return "the checksum of table 'values' does not match at clip " + index.clips.at(clip).id +
         " (rows " + std::to_string(index.offsets[clip]) + " to " +
         std::to_string(index.offsets[clip + 1] - 1) + ")";
}

bool read_h5_cache(const std::string& file, const std::string& fingerprint, Features features,
                   SubsetData& out, std::string* damage, const CancelCheck& cancelled) {
  H5CacheIndex index;
  if (!read_h5_cache_index(file, fingerprint, index, damage)) return false;
  auto damaged = [&](const std::string& why) {
    if (damage) *damage = why;
    return false;
  };
  H5Handle f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  H5Handle ds(H5Dopen2(f.get(), "values", H5P_DEFAULT), H5Dclose);
  if (!f.ok() || !ds.ok()) return damaged("table 'values' is unreadable");
  H5Handle space(H5Dget_space(ds.get()), H5Sclose);
  const FeatureRows rows = feature_rows(features);
  const int64_t F = rows.count();
  SubsetData d;
  d.subset = out.subset;
  d.features = features;
  d.feature_dim = F;
  d.clips = index.clips;
  d.skipped = std::move(index.skipped);
  std::vector<float> buf;
  for (size_t i = 0; i < d.clips.size(); ++i) {
    stop_if_cancelled(cancelled);
    Clip& c = d.clips[i];
    buf.resize(static_cast<size_t>(c.frames * kFileRows));
    const hsize_t start[2] = {static_cast<hsize_t>(index.offsets[i]), 0};
    const hsize_t count[2] = {static_cast<hsize_t>(c.frames), static_cast<hsize_t>(kFileRows)};
    H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr);
    H5Handle mem(H5Screate_simple(2, count, nullptr), H5Sclose);
    if (H5Dread(ds.get(), H5T_NATIVE_FLOAT, mem.get(), space.get(), H5P_DEFAULT, buf.data()) < 0)
      return damaged("table 'values' is unreadable at clip " + c.id);
    if (cache_crc32(buf.data(), buf.size() * sizeof(float)) != index.value_crcs[i])
      return damaged(values_damage(index, i));
    if (F == kFileRows) {
      c.values = buf;
    } else {
      c.values.resize(static_cast<size_t>(c.frames * F));
      for (int64_t t = 0; t < c.frames; ++t)
        std::copy_n(buf.begin() + t * kFileRows + rows.begin, F, c.values.begin() + t * F);
    }
    d.report.source_bytes += buf.size() * sizeof(float);
    d.report.value_bytes += c.values.size() * sizeof(float);
  }
  out = std::move(d);
  return true;
}

}  // namespace melgrad::data
