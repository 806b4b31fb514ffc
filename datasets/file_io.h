// Byte-level file helpers for the data layer: whole-file reads, transparent gzip (zlib),
// atomic writes (temp file + rename) and the error type every data-layer failure uses.
// Every error message names the file it is about.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace melgrad::data {

// Raised for any bad data-set input (missing folder, corrupt .npy, bad label row...).
// what() names the file (and row or field) so the user can act on it.
struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Stopping a long load (Ctrl-C): the loops over clips (reading clip files, writing and
// reading the HDF5 cache, the streamed statistics pass) poll a CancelCheck between clips and
// throw LoadCancelled when it returns true, leaving no temp file of theirs behind. Empty:
// never cancelled. experiments/ passes "Ctrl-C was pressed" (interrupt.h).
using CancelCheck = std::function<bool()>;
struct LoadCancelled : std::runtime_error {
  using std::runtime_error::runtime_error;
};
inline void stop_if_cancelled(const CancelCheck& cancelled) {
  if (cancelled && cancelled()) throw LoadCancelled("loading the data set was interrupted");
}

// True when the bytes start with the gzip magic 1f 8b.
bool is_gzip(const uint8_t* data, size_t size);
// True when the file's first bytes (as stored) are the gzip magic, whatever its name says.
bool file_is_gzip(const std::string& path);

// Whole file as bytes; gzip content (detected by its magic, whatever the name says) is
// inflated. `max_bytes` bounds the (inflated) size: larger files are rejected as corrupt.
std::vector<uint8_t> read_file_bytes(const std::string& path, size_t max_bytes = size_t(4) << 30);

// The first `count` bytes of the file's content (inflated when gzip); fewer when the
// content is shorter. Used to read .npy headers without reading the data.
std::vector<uint8_t> read_file_prefix(const std::string& path, size_t count);

// Inflates a gzip or zlib stream held in memory; `name` is used in error messages.
std::vector<uint8_t> gunzip(const uint8_t* data, size_t size, const std::string& name,
                            size_t max_bytes = size_t(4) << 30);

// Deflates bytes into a gzip stream (level 6).
std::vector<uint8_t> gzip(const uint8_t* data, size_t size);

// Writes bytes to `path` through `path.tmp-<pid>`, fsync and a rename, so readers never see a
// half-written file. A failed write names the temp file and the reason ("No space left on
// device") and removes the temp file.
void write_file_atomic(const std::string& path, const uint8_t* data, size_t size);
void write_file_atomic(const std::string& path, const std::string& text);

// Temporary files of atomic writes are named "NAME.tmp-PID" (files or folders). When the
// process PID was killed, they stay behind; these helpers find and remove them.
// The PID in a temp name ("best.h5.tmp-123" -> 123); false when the name is not one.
bool temp_name_pid(const std::string& name, long& pid);
// True while a process with this PID exists (kill(pid, 0); EPERM counts as existing).
bool process_running(long pid);
struct StaleTemps {
  std::vector<std::string> paths;  // removed
  uint64_t bytes = 0;              // their size
};
// Removes the entries of `dir` (not recursive) named "<prefix>...tmp-PID" whose process no
// longer runs; entries of running processes are left alone. A missing `dir` removes nothing.
StaleTemps remove_stale_temps(const std::string& dir, const std::string& prefix = "");
// "melgrad: removed 2 temporary file(s) (19.7 MB) left in DIR by processes that no longer
// run" on stderr, when any were removed.
void report_stale_temps(const StaleTemps& removed, const std::string& dir);

}  // namespace melgrad::data
