// .npy parsing (versions 1.0–3.0, '<f4'/'<f8', C or Fortran order) and writing (npy.h).
// The header is a Python dict literal; it is parsed by a small recursive reader that
// accepts exactly the keys 'descr', 'fortran_order' and 'shape'.
#include "datasets/npy.h"

#include <bit>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>

namespace melgrad::data {

static_assert(std::endian::native == std::endian::little,
              "the .npy reader assumes a little-endian host");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr int64_t kMaxDim = int64_t(1) << 40;

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw DataError(name + ": " + what);
}

// Reader for the header's dict literal: {'descr': '<f8', 'fortran_order': False, 'shape': (140,
// 1293), }
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& name) : s_(text), name_(name) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_order = false, have_shape = false;
    skip_ws();
    expect('{');
    for (;;) {
      skip_ws();
      if (peek() == '}') {
        ++i_;
        break;
      }
      const std::string key = parse_string("a dict key");
      skip_ws();
      expect(':');
      skip_ws();
      if (key == "descr") {
        if (have_descr) fail(name_, "header repeats the key 'descr'");
        have_descr = true;
        if (peek() != '\'' && peek() != '"')
          fail(name_,
               "header field 'descr' must be a string (structured dtypes are not supported)");
        const std::string d = parse_string("the value of 'descr'");
        if (d == "<f4")
          h.dtype = NpyDtype::f4;
        else if (d == "<f8")
          h.dtype = NpyDtype::f8;
        else if (d == ">f4" || d == ">f8")
          fail(name_, "big-endian dtype '" + d + "' is not supported (expected '<f4' or '<f8')");
        else
          fail(name_, "unsupported dtype '" + d + "' (expected '<f4' or '<f8')");
      } else if (key == "fortran_order") {
        if (have_order) fail(name_, "header repeats the key 'fortran_order'");
        have_order = true;
        h.fortran_order = parse_bool();
      } else if (key == "shape") {
        if (have_shape) fail(name_, "header repeats the key 'shape'");
        have_shape = true;
        h.shape = parse_shape();
      } else {
        fail(name_, "unexpected key '" + key + "' in the header");
      }
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      skip_ws();
      expect('}');
      break;
    }
    skip_ws();
    if (i_ != s_.size()) fail(name_, "unexpected text after the header dict");
    if (!have_descr) fail(name_, "header lacks the key 'descr'");
    if (!have_order) fail(name_, "header lacks the key 'fortran_order'");
    if (!have_shape) fail(name_, "header lacks the key 'shape'");
    return h;
  }

 private:
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  void expect(char c) {
    if (peek() != c)
      fail(name_, std::string("malformed header: expected '") + c + "' at offset " +
                      std::to_string(i_) + " of the header text");
    ++i_;
  }
  std::string parse_string(const char* what) {
    const char q = peek();
    if (q != '\'' && q != '"') fail(name_, std::string("malformed header: expected ") + what);
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != q) out += s_[i_++];
    if (i_ >= s_.size()) fail(name_, "malformed header: unterminated string");
    ++i_;
    return out;
  }
  bool parse_bool() {
    if (s_.compare(i_, 4, "True") == 0) {
      i_ += 4;
      return true;
    }
    if (s_.compare(i_, 5, "False") == 0) {
      i_ += 5;
      return false;
    }
    fail(name_, "header field 'fortran_order' must be True or False");
  }
  std::vector<int64_t> parse_shape() {
    std::vector<int64_t> shape;
    expect('(');
    for (;;) {
      skip_ws();
      if (peek() == ')') {
        ++i_;
        break;
      }
      if (peek() < '0' || peek() > '9')
        fail(name_, "header field 'shape' must be a tuple of non-negative integers");
      int64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        v = v * 10 + (peek() - '0');
        if (v > kMaxDim) fail(name_, "header field 'shape' has an implausible dimension");
        ++i_;
      }
      if (peek() == 'L') ++i_;  // Python 2 longs: (140L, 1293L)
      shape.push_back(v);
      if (shape.size() > 32) fail(name_, "header field 'shape' has more than 32 dimensions");
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      skip_ws();
      expect(')');
      break;
    }
    return shape;
  }

  const std::string& s_;
  const std::string& name_;
  size_t i_ = 0;
};

// Copies `count` little-endian elements starting at `src` into float32.
// An empty array (a zero dimension) has no values and may come with null pointers.
void convert_to_float(const uint8_t* src, NpyDtype dtype, size_t count, float* dst) {
  if (count == 0) return;
  if (dtype == NpyDtype::f4) {
    std::memcpy(dst, src, count * 4);
    return;
  }
  for (size_t i = 0; i < count; ++i) {
    double v;
    std::memcpy(&v, src + 8 * i, 8);
    dst[i] = static_cast<float>(v);
  }
}

// Reorders Fortran-order values into C order for the given shape.
std::vector<float> fortran_to_c(const std::vector<float>& f, const std::vector<int64_t>& shape) {
  std::vector<float> c(f.size());
  if (f.empty()) return c;
  const size_t nd = shape.size();
  if (nd == 2) {
    const size_t rows = static_cast<size_t>(shape[0]), cols = static_cast<size_t>(shape[1]);
    for (size_t r = 0; r < rows; ++r)
      for (size_t col = 0; col < cols; ++col) c[r * cols + col] = f[col * rows + r];
    return c;
  }
  std::vector<size_t> fstride(nd, 1), idx(nd, 0);
  for (size_t k = 1; k < nd; ++k) fstride[k] = fstride[k - 1] * static_cast<size_t>(shape[k - 1]);
  for (size_t out = 0; out < c.size(); ++out) {
    size_t off = 0;
    for (size_t k = 0; k < nd; ++k) off += idx[k] * fstride[k];
    c[out] = f[off];
    for (size_t k = nd; k-- > 0;) {  // C-order increment: last index fastest
      if (++idx[k] < static_cast<size_t>(shape[k])) break;
      idx[k] = 0;
    }
  }
  return c;
}

}  // namespace

std::string npy_shape_string(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) s += ",";
  return s + ")";
}

NpyHeader parse_npy_header(const uint8_t* bytes, size_t size, const std::string& name) {
  if (size < kMagicLen + 2 || std::memcmp(bytes, kMagic, kMagicLen) != 0)
    fail(name, "not a .npy file (the magic string \\x93NUMPY is missing)");
  const int major = bytes[6], minor = bytes[7];
  if (major < 1 || major > 3 || minor != 0)
    fail(name, "unsupported .npy format version " + std::to_string(major) + "." +
                   std::to_string(minor) + " (expected 1.0, 2.0 or 3.0)");
  size_t header_len = 0, prefix = 0;
  if (major == 1) {
    if (size < 10) fail(name, "truncated .npy header");
    header_len = size_t(bytes[8]) | size_t(bytes[9]) << 8;
    prefix = 10;
  } else {
    if (size < 12) fail(name, "truncated .npy header");
    header_len = size_t(bytes[8]) | size_t(bytes[9]) << 8 | size_t(bytes[10]) << 16 |
                 size_t(bytes[11]) << 24;
    prefix = 12;
  }
  if (header_len > (size_t(1) << 24))
    fail(name, "implausible .npy header length " + std::to_string(header_len));
  if (size < prefix + header_len)
    fail(name, "truncated .npy header (declares " + std::to_string(header_len) + " bytes, " +
                   std::to_string(size - prefix) + " present)");
  const std::string text(reinterpret_cast<const char*>(bytes + prefix), header_len);
  for (unsigned char ch : text)
    if (ch == 0 || (ch >= 0x80 && major < 3)) fail(name, "header contains non-text bytes");
  NpyHeader h = HeaderParser(text, name).parse();
  h.major_version = major;
  h.data_offset = prefix + header_len;
  size_t count = 1;
  for (int64_t d : h.shape) {
    if (d != 0 && count > std::numeric_limits<size_t>::max() / 16 / static_cast<size_t>(d))
      fail(name, "shape " + npy_shape_string(h.shape) + " is too large");
    count *= static_cast<size_t>(d);
  }
  h.element_count = count;
  return h;
}

NpyArray parse_npy(const uint8_t* bytes, size_t size, const std::string& name) {
  const NpyHeader h = parse_npy_header(bytes, size, name);
  const size_t have = size - h.data_offset, need = h.data_bytes();
  if (have < need)
    fail(name, "truncated: shape " + npy_shape_string(h.shape) + " needs " + std::to_string(need) +
                   " data bytes, the file has " + std::to_string(have));
  if (have > need)
    fail(name, "corrupt: " + std::to_string(have - need) +
                   " unexpected bytes after the data of shape " + npy_shape_string(h.shape));
  NpyArray a;
  a.shape = h.shape;
  a.source_dtype = h.dtype;
  a.data.resize(h.element_count);
  convert_to_float(bytes + h.data_offset, h.dtype, h.element_count, a.data.data());
  if (h.fortran_order && h.shape.size() > 1) a.data = fortran_to_c(a.data, a.shape);
  return a;
}

NpyArray read_npy(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return parse_npy(bytes.data(), bytes.size(), path);
}

NpyHeader read_npy_header(const std::string& path) {
  std::vector<uint8_t> head = read_file_prefix(path, 4096);
  if (head.size() >= 12 && head[6] >= 2) {  // v2/v3 headers may be longer than 4 KiB
    const size_t len =
        size_t(head[8]) | size_t(head[9]) << 8 | size_t(head[10]) << 16 | size_t(head[11]) << 24;
    if (len + 12 > head.size() && len < (size_t(1) << 24)) head = read_file_prefix(path, len + 12);
  }
  NpyHeader h = parse_npy_header(head.data(), head.size(), path);
  // Only uncompressed files can be checked against their size without inflating them.
  uint8_t raw[2] = {0, 0};
  size_t raw_n = 0;
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    raw_n = std::fread(raw, 1, 2, f);
    std::fclose(f);
  }
  std::error_code ec;
  const auto file_size = std::filesystem::file_size(path, ec);
  if (!ec && !is_gzip(raw, raw_n)) {
    const size_t need = h.data_offset + h.data_bytes();
    if (file_size < need)
      fail(path, "truncated: shape " + npy_shape_string(h.shape) + " needs " +
                     std::to_string(need) + " bytes, the file has " + std::to_string(file_size));
    if (file_size > need)
      fail(path, "corrupt: " + std::to_string(file_size - need) +
                     " unexpected bytes after the data of shape " + npy_shape_string(h.shape));
  }
  return h;
}

std::vector<uint8_t> encode_npy(const std::vector<int64_t>& shape, const double* values,
                                const NpyWriteOptions& options) {
  const bool f4 = options.dtype == NpyDtype::f4;
  std::string dict = std::string("{'descr': '") + (f4 ? "<f4" : "<f8") +
                     "', 'fortran_order': False, 'shape': " + npy_shape_string(shape) + ", }";
  int major = options.major_version;
  if (major < 1 || major > 3) throw std::invalid_argument("encode_npy: version must be 1, 2 or 3");
  size_t prefix = major == 1 ? 10 : 12;
  if (major == 1 && dict.size() + 1 + prefix > 65535) {
    major = 2;
    prefix = 12;
  }
  size_t total = prefix + dict.size() + 1;
  const size_t pad = (64 - total % 64) % 64;  // numpy aligns the data to 64 bytes
  dict += std::string(pad, ' ') + "\n";
  size_t count = 1;
  for (int64_t d : shape) count *= static_cast<size_t>(d);
  std::vector<uint8_t> out;
  out.reserve(prefix + dict.size() + count * (f4 ? 4 : 8));
  out.insert(out.end(), kMagic, kMagic + kMagicLen);
  out.push_back(static_cast<uint8_t>(major));
  out.push_back(0);
  const size_t hl = dict.size();
  out.push_back(static_cast<uint8_t>(hl & 0xff));
  out.push_back(static_cast<uint8_t>((hl >> 8) & 0xff));
  if (major > 1) {
    out.push_back(static_cast<uint8_t>((hl >> 16) & 0xff));
    out.push_back(static_cast<uint8_t>((hl >> 24) & 0xff));
  }
  out.insert(out.end(), dict.begin(), dict.end());
  const size_t data_at = out.size();
  out.resize(data_at + count * (f4 ? 4 : 8));
  for (size_t i = 0; i < count; ++i) {
    if (f4) {
      const float v = static_cast<float>(values[i]);
      std::memcpy(out.data() + data_at + 4 * i, &v, 4);
    } else {
      std::memcpy(out.data() + data_at + 8 * i, &values[i], 8);
    }
  }
  if (options.gzip) return gzip(out.data(), out.size());
  return out;
}

void write_npy(const std::string& path, const std::vector<int64_t>& shape, const double* values,
               const NpyWriteOptions& options) {
  const std::vector<uint8_t> bytes = encode_npy(shape, values, options);
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace melgrad::data
