// A minimal PNG writer (8-bit RGB, no interlacing, filter 0, zlib from Debian) and the
// data: URI that embeds a PNG in SVG or HTML. Used for spectrogram heat maps, which would
// be hundreds of thousands of <rect>s as vector graphics.
//   rgb: [height, width, 3] row-major bytes, top row first.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace melgrad::png {

struct Image {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> rgb;  // [height, width, 3]
};

std::string encode(const Image& image);                        // the PNG file's bytes
std::string data_uri(const Image& image);                      // "data:image/png;base64,..."
void write_file(const std::string& path, const Image& image);  // atomic (temp + rename)
std::string base64(const std::string& bytes);

}  // namespace melgrad::png
