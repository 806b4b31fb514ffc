// Reads the golden fixtures' .npy files (tests/fixtures/README.md) into melgrad tensors,
// for tests that link only melgrad_engine. Handles what the fixtures use: format version
// 1.0 (and 2.0), little-endian '<f4', '<f8' and '<i8', C order, any shape (0-d scalars
// included). Anything else throws std::runtime_error naming the file and the field.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace melgrad::test {

// MELGRAD_SOURCE_DIR + "/tests/fixtures/" + relative.
inline std::string fixture_path(const std::string& relative) {
  return std::string(MELGRAD_SOURCE_DIR) + "/tests/fixtures/" + relative;
}

inline Tensor read_npy_tensor(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  auto fail = [&](const std::string& what) { throw std::runtime_error(path + ": " + what); };
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) fail("not a .npy file");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    start = 10;
  } else if (major == 2 && bytes.size() >= 12) {
    for (int k = 3; k >= 0; --k)
      header_len = (header_len << 8) | static_cast<unsigned char>(bytes[8 + k]);
    start = 12;
  } else {
    fail("unsupported format version " + std::to_string(major));
  }
  if (start + header_len > bytes.size()) fail("truncated header");
  const std::string header(bytes.data() + start, header_len);
  auto field = [&](const std::string& key) {
    size_t k = header.find("'" + key + "'");
    if (k == std::string::npos) fail("header has no '" + key + "'");
    size_t colon = header.find(':', k);
    size_t b = header.find_first_not_of(' ', colon + 1);
    size_t e = header[b] == '(' ? header.find(')', b) + 1 : header.find_first_of(",}", b);
    return header.substr(b, e - b);
  };
  const std::string descr = field("descr");
  if (field("fortran_order") != "False") fail("fortran_order must be False");
  Shape shape;
  const std::string dims = field("shape");
  for (size_t i = 1; i < dims.size();) {
    size_t j = dims.find_first_of(",)", i);
    std::string tok = dims.substr(i, j - i);
    if (tok.find_first_not_of(' ') != std::string::npos) shape.push_back(std::stoll(tok));
    i = j + 1;
  }
  const char* data = bytes.data() + start + header_len;
  const size_t n = static_cast<size_t>(numel_of(shape)), avail = bytes.size() - start - header_len;
  auto take = [&]<class V>(size_t width) {
    if (avail != n * width)
      fail("expected " + std::to_string(n * width) + " data bytes, found " + std::to_string(avail));
    std::vector<V> v(n);
    std::memcpy(v.data(), data, n * width);
    return v;
  };
  if (descr == "'<f4'") return Tensor::from_vector(take.template operator()<float>(4), shape);
  if (descr == "'<f8'") return Tensor::from_vector(take.template operator()<double>(8), shape);
  if (descr == "'<i8'") return Tensor::from_vector(take.template operator()<int64_t>(8), shape);
  fail("unsupported dtype " + descr + " (want '<f4', '<f8' or '<i8')");
  return Tensor();
}

// fixture_path(case_dir + "/" + name + ".npy").
inline Tensor fixture(const std::string& case_dir, const std::string& name) {
  return read_npy_tensor(fixture_path(case_dir + "/" + name + ".npy"));
}

}  // namespace melgrad::test
