// The .npy reader: NumPy-written fixtures (versions 1.0/2.0/3.0, <f4/<f8, Fortran order,
// gzip), writer round trips, and every rejection naming the file.
#include <cmath>
#include <cstring>

#include "datasets/npy.h"
#include "tests/data/test_util.h"

using namespace melgrad::data;
using namespace melgrad::data::testing;

namespace {

// Expected value of fixture clip `id` at file row r, frame t (see fixtures/make_fixtures.py).
float fixture_value(int id, int r, int t) {
  if (r < 128) return -static_cast<float>((r + 2 * t + id % 7) % 80);
  return static_cast<float>((r - 128 + t + id % 5) % 16) / 16.0f;
}

void check_fixture_array(const NpyArray& a, int id, int64_t frames) {
  REQUIRE(a.shape == std::vector<int64_t>{140, frames});
  int bad = 0;
  for (int r = 0; r < 140; ++r)
    for (int t = 0; t < frames; ++t)
      bad += a.data[static_cast<size_t>(r * frames + t)] != fixture_value(id, r, t);
  CHECK(bad == 0);  // values are exact in float32
}

// Raw .npy bytes from a version, header text and data bytes (header padded with '\n').
std::vector<uint8_t> raw_npy(int major, int minor, const std::string& header,
                             const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out = {
      0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), static_cast<uint8_t>(minor)};
  const std::string h = header + "\n";
  out.push_back(static_cast<uint8_t>(h.size() & 0xff));
  out.push_back(static_cast<uint8_t>(h.size() >> 8));
  if (major >= 2) {
    out.push_back(0);
    out.push_back(0);
  }
  out.insert(out.end(), h.begin(), h.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<uint8_t> doubles(std::initializer_list<double> v) {
  std::vector<uint8_t> b(v.size() * 8);
  std::memcpy(b.data(), std::data(v), b.size());
  return b;
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
  return data_error_of([&] { parse_npy(bytes.data(), bytes.size(), "/some/where/clip.npy"); });
}

const std::string kHead2x2 = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }";

}  // namespace

TEST_CASE("npy: NumPy-written files of every supported kind read back exactly") {
  const std::string g = fixture_dir() + "/fma_genre_spectrograms/";
  check_fixture_array(read_npy(g + "train/101.fused.full.npy"), 101, 4);     // v1.0 <f8
  check_fixture_array(read_npy(g + "train/102.fused.full.npy.gz"), 102, 5);  // gzip
  const NpyArray fortran = read_npy(g + "train/105.fused.full.npy");         // <f4, Fortran order
  CHECK(fortran.source_dtype == NpyDtype::f4);
  check_fixture_array(fortran, 105, 4);
  const NpyHeader h2 = read_npy_header(g + "train/106.fused.full.npy");
  CHECK(h2.major_version == 2);
  check_fixture_array(read_npy(g + "train/106.fused.full.npy"), 106, 6);  // v2.0
  const NpyHeader h3 = read_npy_header(g + "test/201.fused.full.npy");
  CHECK(h3.major_version == 3);
  check_fixture_array(read_npy(g + "test/201.fused.full.npy"), 201, 4);  // v3.0
  CHECK(read_npy_header(g + "train/102.fused.full.npy.gz").shape == std::vector<int64_t>{140, 5});
  CHECK(read_npy_header(g + "train/105.fused.full.npy").fortran_order);
}

TEST_CASE("npy: writer round trips through the reader") {
  const std::vector<double> v = {0.5, -1.25, 3.0, 1e-3, -80.0, 0.0};
  for (int version : {1, 2, 3})
    for (NpyDtype dt : {NpyDtype::f4, NpyDtype::f8})
      for (bool gz : {false, true}) {
        CAPTURE(version);
        CAPTURE(gz);
        NpyWriteOptions o{dt, version, gz};
        const auto bytes = encode_npy({2, 3}, v.data(), o);
        CHECK(is_gzip(bytes.data(), bytes.size()) == gz);
        const auto plain = gz ? gunzip(bytes.data(), bytes.size(), "mem") : bytes;
        const NpyArray a = parse_npy(plain.data(), plain.size(), "mem");
        CHECK(a.shape == std::vector<int64_t>{2, 3});
        for (size_t i = 0; i < v.size(); ++i)
          CHECK(a.data[i] == doctest::Approx(v[i]).epsilon(1e-7));
        const NpyHeader h = parse_npy_header(plain.data(), plain.size(), "mem");
        CHECK(h.major_version == version);
        CHECK(h.data_offset % 64 == 0);  // NumPy's alignment
      }
  // 1-D and 0-D shapes, and an empty array.
  const double one = 7.0;
  auto b1 = encode_npy({1}, &one);
  CHECK(parse_npy(b1.data(), b1.size(), "m").shape == std::vector<int64_t>{1});
  auto b0 = encode_npy({}, &one);
  const NpyArray scalar = parse_npy(b0.data(), b0.size(), "m");
  CHECK(scalar.shape.empty());
  CHECK(scalar.data == std::vector<float>{7.0f});
  auto be = encode_npy({0, 140}, nullptr);
  CHECK(parse_npy(be.data(), be.size(), "m").data.empty());
}

TEST_CASE("npy: Fortran order of any rank comes back in C order") {
  // shape (2, 3, 2) in Fortran order: element (i, j, k) stored at i + 2 j + 6 k.
  std::vector<double> f(12);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 2; ++k) f[static_cast<size_t>(i + 2 * j + 6 * k)] = 100 * i + 10 * j + k;
  std::vector<uint8_t> data(96);
  std::memcpy(data.data(), f.data(), 96);
  const auto bytes =
      raw_npy(1, 0, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3, 2), }", data);
  const NpyArray a = parse_npy(bytes.data(), bytes.size(), "f.npy");
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 2; ++k)
        CHECK(a.data[static_cast<size_t>(i * 6 + j * 2 + k)] == 100 * i + 10 * j + k);
  // Python 2 style longs in the shape are accepted.
  const auto py2 = raw_npy(1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 2L), }",
                           doubles({1, 2, 3, 4}));
  CHECK(parse_npy(py2.data(), py2.size(), "p.npy").shape == std::vector<int64_t>{2, 2});
}

TEST_CASE("npy: malformed headers are rejected with the file name and the reason") {
  const auto good = raw_npy(1, 0, kHead2x2, doubles({1, 2, 3, 4}));
  CHECK(parse_error(good) == "<no error>");

  auto bad_magic = good;
  bad_magic[1] = 'X';
  const std::string e1 = parse_error(bad_magic);
  CHECK(contains(e1, "/some/where/clip.npy"));
  CHECK(contains(e1, "not a .npy file"));

  CHECK(
      contains(parse_error(raw_npy(4, 0, kHead2x2, doubles({1, 2, 3, 4}))), "format version 4.0"));
  CHECK(
      contains(parse_error(raw_npy(1, 1, kHead2x2, doubles({1, 2, 3, 4}))), "format version 1.1"));

  auto with = [](const std::string& header) {
    return parse_error(raw_npy(1, 0, header, doubles({1, 2, 3, 4})));
  };
  const std::string i4 = with("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }");
  CHECK(contains(i4, "/some/where/clip.npy"));
  CHECK(contains(i4, "unsupported dtype '<i4'"));
  CHECK(contains(with("{'descr': '>f8', 'fortran_order': False, 'shape': (2, 2), }"),
                 "big-endian dtype '>f8'"));
  CHECK(contains(with("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2, 2), }"),
                 "structured"));
  CHECK(contains(with("{'descr': '<f8', 'shape': (2, 2), }"), "lacks the key 'fortran_order'"));
  CHECK(contains(with("{'fortran_order': False, 'shape': (2, 2), }"), "lacks the key 'descr'"));
  CHECK(contains(with("{'descr': '<f8', 'fortran_order': False, }"), "lacks the key 'shape'"));
  CHECK(contains(with("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), 'x': 1}"),
                 "unexpected key 'x'"));
  CHECK(contains(with("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2, 2)}"),
                 "repeats the key"));
  CHECK(contains(with("{'descr': '<f8', 'fortran_order': 0, 'shape': (2, 2), }"), "True or False"));
  CHECK(contains(with("{'descr': '<f8', 'fortran_order': False, 'shape': (2, -2), }"),
                 "non-negative integers"));
  CHECK(contains(with("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), } junk"),
                 "after the header dict"));
  CHECK(contains(with("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2"),
                 "malformed header"));
  CHECK(contains(with("{'descr': '<f8"), "malformed header: unterminated string"));
  CHECK(contains(with("{'descr': '<f8, 'fortran_order': False, 'shape': (2, 2), }"),
                 "unsupported dtype '<f8, '"));
  CHECK(contains(
      with("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999, 99999999), }"),
      "implausible dimension"));
  CHECK(contains(
      with("{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }"),
      "too large"));
}

TEST_CASE("npy: truncated, padded and corrupt files are rejected naming the file") {
  const auto good = raw_npy(1, 0, kHead2x2, doubles({1, 2, 3, 4}));
  const std::string trunc = parse_error(std::vector<uint8_t>(good.begin(), good.end() - 3));
  CHECK(contains(trunc, "/some/where/clip.npy: truncated"));
  CHECK(contains(trunc, "needs 32 data bytes, the file has 29"));
  auto longer = good;
  longer.push_back(0);
  CHECK(contains(parse_error(longer), "1 unexpected bytes after the data"));
  CHECK(contains(parse_error(std::vector<uint8_t>(good.begin(), good.begin() + 20)),
                 "truncated .npy header"));
  CHECK(contains(parse_error(std::vector<uint8_t>(good.begin(), good.begin() + 7)),
                 "not a .npy file"));
  CHECK(contains(parse_error({}), "not a .npy file"));

  TempDir dir;
  // Truncated on disk: the reader and the header-only reader both name the file.
  const std::string cut = dir / "cut.npy";
  write_text(cut, std::string(good.begin(), good.end() - 8));
  CHECK(contains(data_error_of([&] { read_npy(cut); }), cut + ": truncated"));
  CHECK(contains(data_error_of([&] { read_npy_header(cut); }), cut + ": truncated"));
  // Corrupt and truncated gzip.
  const auto gz = gzip(good.data(), good.size());
  const std::string broken = dir / "broken.npy.gz";
  auto flipped = gz;
  flipped[gz.size() / 2] ^= 0xff;
  flipped[gz.size() / 2 + 1] ^= 0x55;
  write_text(broken, std::string(flipped.begin(), flipped.end()));
  const std::string e_broken = data_error_of([&] { read_npy(broken); });
  CHECK(contains(e_broken, broken));
  const std::string half = dir / "half.npy.gz";
  write_text(half,
             std::string(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(gz.size() / 2)));
  CHECK(contains(data_error_of([&] { read_npy(half); }), "truncated gzip data in '" + half + "'"));
  // Missing file.
  CHECK(contains(data_error_of([&] { read_npy(dir / "nope.npy"); }),
                 "cannot open '" + (dir / "nope.npy") + "'"));
  // A gzip file without the .gz suffix is still inflated (the magic decides).
  const std::string disguised = dir / "disguised.npy";
  write_text(disguised, std::string(gz.begin(), gz.end()));
  CHECK(read_npy(disguised).data == std::vector<float>{1, 2, 3, 4});
}
