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
#include <filesystem>
#include <map>
#include <sstream>
#include <tuple>

#include "datasets/rng.h"

namespace fs = std::filesystem;

namespace melgrad::data {

namespace {

constexpr char kFormat[] = "melgrad-h5-cache v2";

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

// CRC-32 (zlib) of bytes, continuing from `crc` (0 to start).
uint32_t crc_of(const void* data, size_t bytes, uint32_t crc = 0) {
  const auto* p = static_cast<const Bytef*>(data);
  while (bytes > 0) {  // crc32 takes a uInt length
    const auto chunk = static_cast<uInt>(std::min<size_t>(bytes, size_t(1) << 30));
    crc = static_cast<uint32_t>(crc32(crc, p, chunk));
    p += chunk;
    bytes -= chunk;
  }
  return crc;
}

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

bool read_whole(hid_t file, const char* name, hid_t mem_type, size_t elem_size, std::vector<uint8_t>& out,
                std::vector<hsize_t>* dims_out = nullptr) {
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
  if (count > 0 && H5Dread(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0) return false;
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
    const std::string rec = n + "|" + std::to_string(st.st_size) + "|" + std::to_string(st.st_mtim.tv_sec) +
                            "." + std::to_string(st.st_mtim.tv_nsec) + "\n";
    h = fnv1a64(rec, h);
  }
  return hex64(h) + "-" + std::to_string(present);
}

std::string cache_file_for(const std::string& cache_dir, const std::string& root, Subset subset) {
  std::error_code ec;
  fs::path abs = fs::weakly_canonical(fs::absolute(root), ec);
  if (ec) abs = fs::absolute(root);
  return (fs::path(cache_dir) / (subset_key(subset) + "-" + hex64(fnv1a64(abs.string())) + ".h5")).string();
}

void write_h5_cache(const std::string& file, const std::string& fingerprint, const SubsetData& fused) {
  if (fused.feature_dim != kFileRows) throw std::logic_error("write_h5_cache expects fused clips");
  quiet_hdf5();
  std::error_code ec;
  fs::create_directories(fs::path(file).parent_path(), ec);
  if (ec) throw DataError("cannot create cache folder '" + fs::path(file).parent_path().string() + "': " + ec.message());
  const std::string tmp = file + ".tmp-" + std::to_string(::getpid());
  const size_t n = fused.clips.size();
  std::vector<int64_t> offsets(n + 1, 0), labels(n);
  std::vector<float> targets(n * 3);
  std::string clips_text, skipped_text;
  for (size_t i = 0; i < n; ++i) {
    const Clip& c = fused.clips[i];
    offsets[i + 1] = offsets[i] + c.frames;
    labels[i] = c.label;
    std::copy(c.targets.begin(), c.targets.end(), targets.begin() + static_cast<std::ptrdiff_t>(3 * i));
    clips_text += c.id + "\t" + std::to_string(static_cast<int>(c.source)) + "\t0\t" + c.path + "\n";
  }
  for (const SkippedRow& s : fused.skipped)
    skipped_text += s.label_file + "\t" + std::to_string(s.line) + "\t" + s.id + "\t" + s.reason + "\n";
  try {
    H5Handle f(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (!f.ok()) throw DataError("cannot create cache file '" + tmp + "'");
    write_text(f.get(), "format", kFormat, tmp);
    write_text(f.get(), "fingerprint", fingerprint, tmp);
    write_text(f.get(), "clips", clips_text, tmp);
    write_text(f.get(), "skipped", skipped_text, tmp);
    uint32_t values_crc = 0;
    for (const Clip& c : fused.clips)
      values_crc = crc_of(c.values.data(), c.values.size() * sizeof(float), values_crc);
    auto line = [](const char* table, uint32_t crc) {
      return std::string(table) + " " + hex32(crc) + "\n";
    };
    const std::string checksums = line("offsets", crc_of(offsets.data(), offsets.size() * 8)) +
                                  line("labels", crc_of(labels.data(), labels.size() * 8)) +
                                  line("targets", crc_of(targets.data(), targets.size() * 4)) +
                                  line("clips", crc_of(clips_text.data(), clips_text.size())) +
                                  line("skipped",
                                       crc_of(skipped_text.data(), skipped_text.size())) +
                                  line("values", values_crc);
    write_text(f.get(), "checksums", checksums, tmp);
    write_dataset(f.get(), "offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, {n + 1}, offsets.data(), tmp);
    write_dataset(f.get(), "labels", H5T_STD_I64LE, H5T_NATIVE_INT64, {n}, labels.data(), tmp);
    write_dataset(f.get(), "targets", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {n, 3}, targets.data(), tmp);
    const hsize_t dims[2] = {static_cast<hsize_t>(offsets[n]), static_cast<hsize_t>(kFileRows)};
    H5Handle space(H5Screate_simple(2, dims, nullptr), H5Sclose);
    H5Handle ds(H5Dcreate2(f.get(), "values", H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT,
                           H5P_DEFAULT),
                H5Dclose);
    if (!ds.ok()) throw DataError(tmp + ": cannot create dataset 'values'");
    for (size_t i = 0; i < n; ++i) {
      const Clip& c = fused.clips[i];
      const hsize_t start[2] = {static_cast<hsize_t>(offsets[i]), 0};
      const hsize_t count[2] = {static_cast<hsize_t>(c.frames), static_cast<hsize_t>(kFileRows)};
      H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr);
      H5Handle mem(H5Screate_simple(2, count, nullptr), H5Sclose);
      if (H5Dwrite(ds.get(), H5T_NATIVE_FLOAT, mem.get(), space.get(), H5P_DEFAULT, c.values.data()) < 0)
        throw DataError(tmp + ": cannot write the values of clip " + c.id);
    }
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  fs::rename(tmp, file, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw DataError("cannot rename '" + tmp + "' to '" + file + "'");
  }
}

bool read_h5_cache(const std::string& file, const std::string& fingerprint, Features features,
                   SubsetData& out, std::string* damage) {
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
  std::vector<uint8_t> off_b, lab_b, tgt_b;
  for (const auto& [name, text] : {std::pair{"checksums", &checksum_text}, {"clips", &clips_text},
                                   {"skipped", &skipped_text}})
    if (!read_text(f.get(), name, *text))
      return damaged(std::string("table '") + name + "' is unreadable");
  for (const auto& [name, type, size, bytes] :
       {std::tuple{"offsets", H5T_NATIVE_INT64, 8, &off_b}, {"labels", H5T_NATIVE_INT64, 8, &lab_b},
        {"targets", H5T_NATIVE_FLOAT, 4, &tgt_b}})
    if (!read_whole(f.get(), name, type, size_t(size), *bytes))
      return damaged(std::string("table '") + name + "' is unreadable");
  std::map<std::string, std::string> expected;  // table -> CRC-32 hex
  {
    std::stringstream ss(checksum_text);
    std::string name, crc;
    while (ss >> name >> crc) expected[name] = crc;
  }
  const std::pair<const char*, uint32_t> tables[] = {
      {"offsets", crc_of(off_b.data(), off_b.size())},
      {"labels", crc_of(lab_b.data(), lab_b.size())},
      {"targets", crc_of(tgt_b.data(), tgt_b.size())},
      {"clips", crc_of(clips_text.data(), clips_text.size())},
      {"skipped", crc_of(skipped_text.data(), skipped_text.size())}};
  for (const auto& [name, crc] : tables)
    if (expected[name] != hex32(crc))
      return damaged(std::string("the checksum of table '") + name + "' does not match");
  if (!expected.count("values")) return damaged("table 'checksums' has no entry for 'values'");
  const size_t n = lab_b.size() / 8;
  if (off_b.size() != (n + 1) * 8 || tgt_b.size() != n * 12)
    return damaged("tables 'offsets', 'labels' and 'targets' disagree on the number of clips");
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
  uint32_t values_crc = 0;

  const FeatureRows rows = feature_rows(features);
  const int64_t F = rows.count();
  SubsetData d;
  d.subset = out.subset;
  d.features = features;
  d.feature_dim = F;
  d.clips.resize(n);
  std::vector<float> buf;
  for (size_t i = 0; i < n; ++i) {
    const auto fields = split_fields(lines[i]);
    if (fields.size() != 4) return damaged("table 'clips' has a malformed line");
    Clip& c = d.clips[i];
    c.id = fields[0];
    c.source = fields[1] == "1" ? ClipSource::test_folder : ClipSource::train_folder;
    c.path = fields[3];
    c.label = labels[i];
    std::copy(targets + 3 * i, targets + 3 * i + 3, c.targets.begin());
    c.frames = offsets[i + 1] - offsets[i];
    buf.resize(static_cast<size_t>(c.frames * kFileRows));
    const hsize_t start[2] = {static_cast<hsize_t>(offsets[i]), 0};
    const hsize_t count[2] = {static_cast<hsize_t>(c.frames), static_cast<hsize_t>(kFileRows)};
    H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr);
    H5Handle mem(H5Screate_simple(2, count, nullptr), H5Sclose);
    if (H5Dread(ds.get(), H5T_NATIVE_FLOAT, mem.get(), space.get(), H5P_DEFAULT, buf.data()) < 0)
      return damaged("table 'values' is unreadable at clip " + c.id);
    values_crc = crc_of(buf.data(), buf.size() * sizeof(float), values_crc);
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
  if (expected["values"] != hex32(values_crc))
    return damaged("the checksum of table 'values' does not match");
  std::stringstream ss(skipped_text);
  std::string line;
  while (std::getline(ss, line)) {
    const auto fields = split_fields(line);
    int64_t row_line = 0;
    if (fields.size() != 4 || !parse_line_number(fields[1], row_line))
      return damaged("table 'skipped' has a malformed line");
    d.skipped.push_back({fields[0], row_line, fields[2], fields[3]});
  }
  out = std::move(d);
  return true;
}

}  // namespace melgrad::data
