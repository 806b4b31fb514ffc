// Our own NumPy .npy reader and writer.
//
// Reads format versions 1.0, 2.0 and 3.0, dtypes '<f4' and '<f8' (any other dtype is a
// DataError naming it), C order or Fortran order (Fortran data is transposed into C order
// on read). Files may be gzip-compressed (.npy.gz or any name: the gzip magic decides).
// Values come back as float32 in C (row-major) order: an array of shape (140, T) has
// element (r, t) at data[r * T + t]. Truncated or corrupt files are rejected with a
// DataError whose message starts with the file's path.
// The writer produces version 1.0 (2.0 or 3.0 on request), '<f4' or '<f8', C order,
// optionally gzip-compressed; the synthetic data-set generator and the tests use it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/file_io.h"

namespace melgrad::data {

enum class NpyDtype { f4, f8 };

struct NpyHeader {
  int major_version = 1;          // 1, 2 or 3
  NpyDtype dtype = NpyDtype::f8;  // from 'descr'
  bool fortran_order = false;
  std::vector<int64_t> shape;  // () for a scalar
  size_t data_offset = 0;      // bytes from the start of the file to the data
  size_t element_count = 1;    // product of shape
  size_t data_bytes() const { return element_count * (dtype == NpyDtype::f4 ? 4 : 8); }
};

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;  // C order, float32
  NpyDtype source_dtype = NpyDtype::f8;
};

// Parses and validates the header at the start of `bytes` (at least the magic, version,
// length field and header text must be there). `name` is the file's path for messages.
NpyHeader parse_npy_header(const uint8_t* bytes, size_t size, const std::string& name);

// Parses a whole .npy image held in memory (not gzip: use read_npy for files). Rejects
// missing or extra data bytes.
NpyArray parse_npy(const uint8_t* bytes, size_t size, const std::string& name);

// Reads a .npy or gzip-compressed .npy file.
NpyArray read_npy(const std::string& path);

// Reads only the header (inflating just enough of a gzip file). For uncompressed files the
// file size is checked against the header, so truncated files are caught here too.
NpyHeader read_npy_header(const std::string& path);

struct NpyWriteOptions {
  NpyDtype dtype = NpyDtype::f8;
  int major_version = 1;  // 1, 2 or 3 (1 is promoted to 2 if the header does not fit)
  bool gzip = false;
};

// Serialises a C-order array (values given as double, stored as dtype) to .npy bytes.
std::vector<uint8_t> encode_npy(const std::vector<int64_t>& shape, const double* values,
                                const NpyWriteOptions& options = {});
// Writes the encoded array atomically to `path`.
void write_npy(const std::string& path, const std::vector<int64_t>& shape, const double* values,
               const NpyWriteOptions& options = {});

std::string npy_shape_string(const std::vector<int64_t>& shape);  // "(140, 1293)"

}  // namespace melgrad::data
