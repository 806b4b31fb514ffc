// HDF5 named-tensor files (see tensor_file.h), on the HDF5 C API (1.10, as in Debian 12).
#include "engine/io/tensor_file.h"

#include <fcntl.h>
#include <hdf5.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace melgrad::io {

namespace {

// Closes an HDF5 handle at scope exit.
struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Handle() {
    if (id >= 0) close(id);
  }
};

void quiet_hdf5() {
  static bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // we report errors ourselves
    return true;
  }();
  (void)done;
}

hid_t native_type(DType t) {
  switch (t) {
    case DType::f32:
      return H5T_NATIVE_FLOAT;
    case DType::f64:
      return H5T_NATIVE_DOUBLE;
    case DType::i64:
      return H5T_NATIVE_INT64;
  }
  return -1;
}

// True when the file system holding `path` has no room left (HDF5's errors do not say).
bool disk_is_full(const std::string& path) {
  struct statvfs st {};
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (::statvfs(dir.empty() ? "." : dir.c_str(), &st) != 0) return false;
  return uint64_t(st.f_bavail) * st.f_frsize < (uint64_t(1) << 20);
}

void check(herr_t status, const std::string& what, const std::string& path) {
  if (status < 0) throw std::runtime_error(path + ": HDF5 error while " + what);
}

void write_file(const std::string& path, const nn::NamedTensors& tensors,
                const std::map<std::string, std::string>& attributes) {
  Handle file{H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose};
  if (file.id < 0) throw std::runtime_error(path + ": cannot create HDF5 file");
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name.find('/') != std::string::npos)
      throw std::invalid_argument(path + ": tensor name '" + name + "' is empty or contains '/'");
    Tensor host = t.to(Device::cpu()).contiguous();
    std::vector<hsize_t> dims(host.shape().begin(), host.shape().end());
    Handle space{dims.empty() ? H5Screate(H5S_SCALAR)
                              : H5Screate_simple(int(dims.size()), dims.data(), nullptr),
                 H5Sclose};
    Handle dset{H5Dcreate2(file.id, name.c_str(), native_type(host.dtype()), space.id, H5P_DEFAULT,
                           H5P_DEFAULT, H5P_DEFAULT),
                H5Dclose};
    if (dset.id < 0) throw std::runtime_error(path + ": cannot create dataset '" + name + "'");
    check(H5Dwrite(dset.id, native_type(host.dtype()), H5S_ALL, H5S_ALL, H5P_DEFAULT,
                   host.raw_data()),
          "writing '" + name + "'", path);
  }
  for (const auto& [key, value] : attributes) {
    Handle type{H5Tcopy(H5T_C_S1), H5Tclose};
    check(H5Tset_size(type.id, value.empty() ? 1 : value.size()), "sizing an attribute", path);
    Handle space{H5Screate(H5S_SCALAR), H5Sclose};
    Handle attr{H5Acreate2(file.id, key.c_str(), type.id, space.id, H5P_DEFAULT, H5P_DEFAULT),
                H5Aclose};
    if (attr.id < 0) throw std::runtime_error(path + ": cannot create attribute '" + key + "'");
    std::string padded = value.empty() ? std::string(1, '\0') : value;
    check(H5Awrite(attr.id, type.id, padded.data()), "writing attribute '" + key + "'", path);
  }
  check(H5Fflush(file.id, H5F_SCOPE_GLOBAL), "flushing", path);
}

DType dtype_of_dataset(hid_t dset, const std::string& name, const std::string& path) {
  Handle type{H5Dget_type(dset), H5Tclose};
  H5T_class_t cls = H5Tget_class(type.id);
  size_t size = H5Tget_size(type.id);
  if (cls == H5T_FLOAT && size == 4) return DType::f32;
  if (cls == H5T_FLOAT && size == 8) return DType::f64;
  if (cls == H5T_INTEGER && size <= 8) return DType::i64;  // converted on read
  throw std::runtime_error(path + ": dataset '" + name +
                           "' has an unsupported type (need float32, float64 or an integer)");
}

// A checkpoint never holds NaN or Inf: training stops before writing one, so such a value
// means a damaged or edited file, which must not be evaluated silently.
void check_finite(const Tensor& t, const std::string& name, const std::string& path) {
  auto scan = [&](const auto* v) {
    for (int64_t i = 0; i < t.numel(); ++i)
      if (!std::isfinite(v[i]))
        throw std::runtime_error(path + ": tensor '" + name + "' holds a non-finite value (" +
                                 std::to_string(double(v[i])) + " at element " + std::to_string(i) +
                                 "); the file is damaged");
  };
  if (t.dtype() == DType::f32) scan(static_cast<const float*>(t.raw_data()));
  if (t.dtype() == DType::f64) scan(static_cast<const double*>(t.raw_data()));
}

struct LoadContext {
  const std::string* path;
  TensorFile* out;
  std::string error;
};

herr_t visit_link(hid_t group, const char* name, const H5L_info_t*, void* data) {
  auto* ctx = static_cast<LoadContext*>(data);
  try {
    H5O_info_t info;
    if (H5Oget_info_by_name2(group, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
        info.type != H5O_TYPE_DATASET)
      return 0;  // groups and other objects are not ours; skip
    Handle dset{H5Dopen2(group, name, H5P_DEFAULT), H5Dclose};
    Handle space{H5Dget_space(dset.id), H5Sclose};
    int rank = H5Sget_simple_extent_ndims(space.id);
    std::vector<hsize_t> dims(rank > 0 ? rank : 0);
    if (rank > 0) H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
    Shape shape(dims.begin(), dims.end());
    DType dt = dtype_of_dataset(dset.id, name, *ctx->path);
    Tensor t = Tensor::empty(shape, dt);
    if (t.numel() > 0)
      check(H5Dread(dset.id, native_type(dt), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw_data()),
            std::string("reading '") + name + "'", *ctx->path);
    check_finite(t, name, *ctx->path);
    ctx->out->tensors[name] = t;
    return 0;
  } catch (const std::exception& e) {
    ctx->error = e.what();
    return -1;
  }
}

herr_t visit_attribute(hid_t loc, const char* name, const H5A_info_t*, void* data) {
  auto* ctx = static_cast<LoadContext*>(data);
  Handle attr{H5Aopen(loc, name, H5P_DEFAULT), H5Aclose};
  Handle type{H5Aget_type(attr.id), H5Tclose};
  if (H5Tget_class(type.id) != H5T_STRING || H5Tis_variable_str(type.id) > 0) return 0;
  std::string value(H5Tget_size(type.id), '\0');
  if (H5Aread(attr.id, type.id, value.data()) < 0) return 0;
  value.resize(std::strlen(value.c_str()));
  ctx->out->attributes[name] = value;
  return 0;
}

}  // namespace

void save_tensor_file(const std::string& path, const nn::NamedTensors& tensors,
                      const std::map<std::string, std::string>& attributes) {
  quiet_hdf5();
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  errno = 0;
  try {
    write_file(tmp, tensors, attributes);
    int fd = ::open(tmp.c_str(), O_RDONLY);
    if (fd >= 0) {
      const int synced = ::fsync(fd);
      ::close(fd);
      if (synced != 0) throw std::runtime_error(tmp + ": cannot flush to disk");
    }
    std::filesystem::rename(tmp, path);
  } catch (const std::exception& e) {
    const bool full = errno == ENOSPC || errno == EDQUOT || disk_is_full(tmp);
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    if (full) throw std::runtime_error(std::string(e.what()) + ": no space left on device");
    throw;
  }
}

TensorFile load_tensor_file(const std::string& path) {
  quiet_hdf5();
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no such file");
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw std::runtime_error(path + ": not an HDF5 file (or it is truncated)");
  Handle file{H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose};
  if (file.id < 0) throw std::runtime_error(path + ": cannot open HDF5 file");
  TensorFile out;
  LoadContext ctx{&path, &out, ""};
  if (H5Literate(file.id, H5_INDEX_NAME, H5_ITER_INC, nullptr, visit_link, &ctx) < 0)
    throw std::runtime_error(ctx.error.empty() ? path + ": cannot list datasets" : ctx.error);
  H5Aiterate2(file.id, H5_INDEX_NAME, H5_ITER_INC, nullptr, visit_attribute, &ctx);
  return out;
}

void save_module(const std::string& path, const nn::Module& module,
                 const std::map<std::string, std::string>& attributes) {
  save_tensor_file(path, module.state(), attributes);
}

std::map<std::string, std::string> load_module(const std::string& path, nn::Module& module,
                                               bool strict) {
  TensorFile f = load_tensor_file(path);
  try {
    module.load_state(f.tensors, strict);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(path + ": " + e.what());
  }
  return f.attributes;
}

}  // namespace melgrad::io
