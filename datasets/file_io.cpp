// Whole-file reads, zlib gzip in and out, atomic writes (see file_io.h).
#include "datasets/file_io.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

namespace melgrad::data {

namespace {

std::string errno_text() { return std::strerror(errno); }

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

FilePtr open_for_reading(const std::string& path) {
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) throw DataError("cannot open '" + path + "': " + errno_text());
  struct stat st {};
  if (::fstat(::fileno(f.get()), &st) == 0 && S_ISDIR(st.st_mode))
    throw DataError("'" + path + "' is a folder, not a file");
  return f;
}

// Inflates from a callback-fed stream until `limit` output bytes or the end of the stream.
// Returns the bytes; `complete` tells whether the stream ended cleanly.
class Inflater {
 public:
  explicit Inflater(const std::string& name) : name_(name) {
    std::memset(&zs_, 0, sizeof zs_);
    // 15 + 32: zlib or gzip, detected from the header.
    if (inflateInit2(&zs_, 15 + 32) != Z_OK) throw DataError("zlib init failed for '" + name + "'");
  }
  ~Inflater() { inflateEnd(&zs_); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Feeds `in`; appends output to `out` until `limit` bytes are there. Returns true at the
  // end of the gzip stream.
  bool feed(const uint8_t* in, size_t in_size, std::vector<uint8_t>& out, size_t limit) {
    zs_.next_in = const_cast<Bytef*>(in);
    zs_.avail_in = static_cast<uInt>(in_size);
    while (out.size() < limit) {
      const size_t old = out.size();
      const size_t want = std::min<size_t>(limit - old, std::max<size_t>(in_size * 4, 1 << 16));
      out.resize(old + want);
      zs_.next_out = out.data() + old;
      zs_.avail_out = static_cast<uInt>(want);
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      out.resize(old + (want - zs_.avail_out));
      if (rc == Z_STREAM_END) {
        ended_ = true;
        return true;
      }
      if (rc == Z_BUF_ERROR && zs_.avail_in == 0) return false;  // needs more input
      if (rc != Z_OK && rc != Z_BUF_ERROR)
        throw DataError("corrupt gzip data in '" + name_ +
                        "': " + (zs_.msg ? zs_.msg : "inflate error " + std::to_string(rc)));
      if (zs_.avail_in == 0 && zs_.avail_out != 0) return false;
    }
    return false;
  }
  bool ended() const { return ended_; }
  size_t unused_input() const { return zs_.avail_in; }

 private:
  z_stream zs_;
  std::string name_;
  bool ended_ = false;
};

}  // namespace

bool is_gzip(const uint8_t* data, size_t size) {
  return size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

bool file_is_gzip(const std::string& path) {
  FilePtr f = open_for_reading(path);
  uint8_t magic[2] = {0, 0};
  const size_t n = std::fread(magic, 1, sizeof magic, f.get());
  return is_gzip(magic, n);
}

std::vector<uint8_t> gunzip(const uint8_t* data, size_t size, const std::string& name,
                            size_t max_bytes) {
  Inflater inf(name);
  std::vector<uint8_t> out;
  inf.feed(data, size, out, max_bytes + 1);
  if (out.size() > max_bytes)
    throw DataError("gzip content of '" + name + "' exceeds " + std::to_string(max_bytes) +
                    " bytes; refusing it as corrupt");
  if (!inf.ended()) throw DataError("truncated gzip data in '" + name + "'");
  return out;
}

std::vector<uint8_t> gzip(const uint8_t* data, size_t size) {
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  // 15 + 16: gzip wrapper.
  if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("zlib deflateInit2 failed");
  std::vector<uint8_t> out(deflateBound(&zs, static_cast<uLong>(size)) + 32);
  zs.next_in = const_cast<Bytef*>(data);
  zs.avail_in = static_cast<uInt>(size);
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(out.size() - zs.avail_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("zlib deflate failed");
  return out;
}

std::vector<uint8_t> read_file_bytes(const std::string& path, size_t max_bytes) {
  FilePtr f = open_for_reading(path);
  std::vector<uint8_t> bytes;
  if (std::fseek(f.get(), 0, SEEK_END) == 0) {
    const long end = std::ftell(f.get());
    if (end > 0) bytes.reserve(static_cast<size_t>(end));
    std::fseek(f.get(), 0, SEEK_SET);
  }
  uint8_t buf[1 << 16];
  for (;;) {
    const size_t n = std::fread(buf, 1, sizeof buf, f.get());
    bytes.insert(bytes.end(), buf, buf + n);
    if (n < sizeof buf) break;
    if (bytes.size() > max_bytes)
      throw DataError("'" + path + "' is larger than " + std::to_string(max_bytes) + " bytes");
  }
  if (std::ferror(f.get())) throw DataError("read error on '" + path + "': " + errno_text());
  if (is_gzip(bytes.data(), bytes.size()))
    return gunzip(bytes.data(), bytes.size(), path, max_bytes);
  return bytes;
}

std::vector<uint8_t> read_file_prefix(const std::string& path, size_t count) {
  FilePtr f = open_for_reading(path);
  std::vector<uint8_t> raw(std::max<size_t>(count, 2));
  size_t got = std::fread(raw.data(), 1, raw.size(), f.get());
  raw.resize(got);
  if (!is_gzip(raw.data(), raw.size())) {
    raw.resize(std::min(raw.size(), count));
    return raw;
  }
  Inflater inf(path);
  std::vector<uint8_t> out;
  inf.feed(raw.data(), raw.size(), out, count);
  uint8_t buf[1 << 14];
  while (out.size() < count && !inf.ended()) {
    const size_t n = std::fread(buf, 1, sizeof buf, f.get());
    if (n == 0) break;
    inf.feed(buf, n, out, count);
  }
  return out;
}

void write_file_atomic(const std::string& path, const uint8_t* data, size_t size) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw DataError("cannot create '" + tmp + "': " + errno_text());
  auto fail = [&](const std::string& what) {
    const std::string reason = errno_text();  // before close and remove change errno
    ::close(fd);
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw DataError(what + " '" + tmp + "': " + reason);
  };
  for (size_t done = 0; done < size;) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("write error on");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 && errno != EINVAL) fail("cannot flush");
  if (::close(fd) != 0) {
    const std::string reason = errno_text();
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw DataError("write error on '" + tmp + "': " + reason);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp);
    throw DataError("cannot rename '" + tmp + "' to '" + path + "': " + ec.message());
  }
}

void write_file_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

bool temp_name_pid(const std::string& name, long& pid) {
  const size_t at = name.rfind(".tmp-");
  if (at == std::string::npos) return false;
  const std::string digits = name.substr(at + 5);
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return false;
  pid = std::stol(digits);
  return pid > 0;
}

bool process_running(long pid) {
  if (pid == static_cast<long>(::getpid())) return true;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

StaleTemps remove_stale_temps(const std::string& dir, const std::string& prefix) {
  namespace fs = std::filesystem;
  StaleTemps removed;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    long pid = 0;
    if (name.rfind(prefix, 0) != 0 || !temp_name_pid(name, pid) || process_running(pid)) continue;
    uint64_t bytes = 0;
    std::error_code size_ec;
    if (entry.is_directory(size_ec)) {
      for (const auto& f : fs::recursive_directory_iterator(entry.path(), size_ec))
        if (f.is_regular_file(size_ec)) bytes += f.file_size(size_ec);
    } else {
      bytes = entry.file_size(size_ec);
    }
    std::error_code remove_ec;
    fs::remove_all(entry.path(), remove_ec);
    if (remove_ec) continue;  // not ours to remove (permissions): leave it
    removed.paths.push_back(entry.path().string());
    removed.bytes += bytes;
  }
  return removed;
}

void report_stale_temps(const StaleTemps& removed, const std::string& dir) {
  if (removed.paths.empty()) return;
  std::fprintf(stderr,
               "melgrad: removed %zu temporary file(s) (%.1f MB) left in %s by processes that no "
               "longer run\n",
               removed.paths.size(), double(removed.bytes) / 1e6, dir.c_str());
}

}  // namespace melgrad::data
