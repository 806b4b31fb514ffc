// PNG encoding on zlib: see png.h. Format: the PNG specification (ISO/IEC 15948), chunks
// IHDR, one IDAT, IEND, each with its CRC-32.
#include "experiments/png.h"

#include <zlib.h>

#include <stdexcept>

#include "datasets/file_io.h"

namespace melgrad::png {
namespace {

void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(char((v >> shift) & 0xff));
}

void put_chunk(std::string& out, const char* type, const std::string& data) {
  put_u32(out, uint32_t(data.size()));
  const std::string body = std::string(type, 4) + data;
  out += body;
  put_u32(out, uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size()))));
}

}  // namespace

std::string encode(const Image& im) {
  if (im.width <= 0 || im.height <= 0 || im.rgb.size() != size_t(im.width * im.height * 3))
    throw std::invalid_argument(
        "png: image of " + std::to_string(im.width) + "x" + std::to_string(im.height) + " needs " +
        std::to_string(im.width * im.height * 3) + " bytes, has " + std::to_string(im.rgb.size()));
  std::string raw;  // each row: filter type 0 (none), then the row's bytes
  raw.reserve(size_t(im.height * (im.width * 3 + 1)));
  for (int64_t y = 0; y < im.height; ++y) {
    raw.push_back('\0');
    raw.append(reinterpret_cast<const char*>(im.rgb.data()) + y * im.width * 3,
               size_t(im.width * 3));
  }
  uLongf packed_size = compressBound(uLong(raw.size()));
  std::string packed(packed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size,
                reinterpret_cast<const Bytef*>(raw.data()), uLong(raw.size()),
                Z_BEST_COMPRESSION) != Z_OK)
    throw std::runtime_error("png: zlib compression failed");
  packed.resize(packed_size);

  std::string out = "\x89PNG\r\n\x1a\n";
  std::string ihdr;
  put_u32(ihdr, uint32_t(im.width));
  put_u32(ihdr, uint32_t(im.height));
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8 bits, RGB, deflate, filter 0, no interlace
  put_chunk(out, "IHDR", ihdr);
  put_chunk(out, "IDAT", packed);
  put_chunk(out, "IEND", "");
  return out;
}

std::string base64(const std::string& bytes) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const uint32_t b0 = uint8_t(bytes[i]);
    const uint32_t b1 = i + 1 < bytes.size() ? uint8_t(bytes[i + 1]) : 0;
    const uint32_t b2 = i + 2 < bytes.size() ? uint8_t(bytes[i + 2]) : 0;
    const uint32_t v = (b0 << 16) | (b1 << 8) | b2;
    out.push_back(table[(v >> 18) & 63]);
    out.push_back(table[(v >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? table[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < bytes.size() ? table[v & 63] : '=');
  }
  return out;
}

std::string data_uri(const Image& image) {
  return "data:image/png;base64," + base64(encode(image));
}

void write_file(const std::string& path, const Image& image) {
  data::write_file_atomic(path, encode(image));
}

}  // namespace melgrad::png
