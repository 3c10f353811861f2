// tensor.cpp — Tensor, Storage and the host allocator.
#include "tensor.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>

namespace pcn {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::U8: return 1;
  }
  return 4;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::I32: return "int32";
    case DType::I64: return "int64";
    case DType::U8: return "uint8";
  }
  return "?";
}

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
}

Device Device::parse(const std::string& s0) {
  std::string s = s0;
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  if (s == "cpu") return Device{};
  if (s == "cuda" || s == "gpu") return Device{DeviceType::CUDA, 0};
  for (const char* pre : {"cuda:", "gpu:"}) {
    const size_t n = std::strlen(pre);
    if (s.compare(0, n, pre) == 0 && s.size() > n &&
        std::all_of(s.begin() + n, s.end(), ::isdigit) && s.size() - n < 6)
      return Device{DeviceType::CUDA, std::stoi(s.substr(n))};
  }
  PCN_THROW(ValueError, "device: expected 'cpu', 'cuda' or 'cuda:N', got '" << s0 << "'");
}

// ---------------------------------------------------------------- allocators
namespace {
// Host allocator: 64-byte aligned. Blocks of 1 MiB and more are cached on free
// (keyed by exact rounded size, at most kCacheBytes in total) and handed out
// again, so a training step that allocates the same activations every step
// pays no page faults after the first one.
struct HostAllocator final : Allocator {
  static constexpr size_t kCacheMin = size_t(1) << 20;
  static constexpr size_t kCacheBytes = size_t(4) << 30;
  std::mutex mu;
  std::multimap<size_t, void*> cache;
  size_t cached = 0;
  static size_t round(size_t nbytes) {
    const size_t n = (std::max<size_t>(nbytes, 1) + 63) & ~size_t(63);
    return n >= kCacheMin ? (n + 4095) & ~size_t(4095) : n;
  }
  void* allocate(size_t nbytes, int) override {
    const size_t n = round(nbytes);
    if (n >= kCacheMin) {
      std::lock_guard<std::mutex> g(mu);
      auto it = cache.find(n);
      if (it != cache.end()) {
        void* p = it->second;
        cache.erase(it);
        cached -= n;
        return p;
      }
    }
    void* p = std::aligned_alloc(64, n);
    if (!p) {
      trim();
      p = std::aligned_alloc(64, n);
    }
    if (!p) PCN_THROW(RuntimeError, "out of host memory allocating " << nbytes << " bytes");
    return p;
  }
  void deallocate(void* p, size_t nbytes, int) override {
    const size_t n = round(nbytes);
    if (n >= kCacheMin) {
      std::lock_guard<std::mutex> g(mu);
      if (cached + n <= kCacheBytes) {
        cache.emplace(n, p);
        cached += n;
        return;
      }
    }
    std::free(p);
  }
  void trim() {
    std::lock_guard<std::mutex> g(mu);
    for (auto& kv : cache) std::free(kv.second);
    cache.clear();
    cached = 0;
  }
};
// Never destroyed: tensors held by Python may be freed during interpreter exit.
HostAllocator* g_host_alloc = new HostAllocator();
Allocator* g_allocs[2] = {g_host_alloc, nullptr};
DeviceCopyFn g_copy = nullptr;
DeviceFillFn g_fill = nullptr;
std::atomic<bool> g_poison{false};
}  // namespace

void set_allocator(DeviceType t, Allocator* a) { g_allocs[int(t)] = a; }
Allocator* get_allocator(DeviceType t) {
  Allocator* a = g_allocs[int(t)];
  if (!a)
    PCN_THROW(RuntimeError, "no allocator for device type "
                                << (t == DeviceType::CUDA ? "cuda (pyconvnet was built without CUDA)" : "cpu"));
  return a;
}
void set_device_copy(DeviceCopyFn fn) { g_copy = fn; }
void set_device_fill(DeviceFillFn fn) { g_fill = fn; }
void set_poison_allocations(bool on) { g_poison = on; }
bool poison_allocations() { return g_poison; }

Storage::~Storage() {
  if (alloc && data) alloc->deallocate(data, nbytes, device.index);
}

// ---------------------------------------------------------------- helpers
std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  if (s.size() == 1) os << ",";
  os << ")";
  return os.str();
}

int64_t checked_numel(const std::vector<int64_t>& s, const char* op) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) PCN_THROW(ValueError, op << ": negative dimension in shape " << shape_str(s));
    if (d != 0 && n > kMaxNumel / d)
      PCN_THROW(ValueError, op << ": shape " << shape_str(s) << " has too many elements (limit 2^40)");
    n *= d;
  }
  return n;
}

static std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> st(shape.size());
  int64_t s = 1;
  for (int i = int(shape.size()) - 1; i >= 0; --i) {
    st[i] = s;
    s *= std::max<int64_t>(shape[i], 1);
  }
  return st;
}

static void fill_pattern(void* p, size_t nbytes, DType dt, Device dev) {
  // NaN for floats, a large odd value for integers.
  const uint32_t pat = dt == DType::F32 ? 0x7fc00001u : 0x5a5a5a5au;
  if (dev.is_cpu()) {
    const size_t n32 = nbytes / 4;
    uint32_t* q = static_cast<uint32_t*>(p);
    for (size_t i = 0; i < n32; ++i) q[i] = pat;
    std::memset(static_cast<char*>(p) + n32 * 4, 0x5a, nbytes - n32 * 4);
  } else if (g_fill) {
    g_fill(p, pat, nbytes / 4, dev.index);
  }
}

// ---------------------------------------------------------------- Tensor
Tensor Tensor::empty(const std::vector<int64_t>& shape, DType dt, Device dev) {
  const int64_t n = checked_numel(shape, "Tensor.empty");
  Tensor t;
  t.storage_ = std::make_shared<Storage>();
  t.storage_->device = dev;
  t.storage_->alloc = get_allocator(dev.type);
  t.storage_->nbytes = size_t(n) * dtype_size(dt);
  t.storage_->data = t.storage_->alloc->allocate(t.storage_->nbytes, dev.index);
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dt;
  if (g_poison && n > 0) fill_pattern(t.storage_->data, t.storage_->nbytes, dt, dev);
  return t;
}

Tensor Tensor::zeros(const std::vector<int64_t>& shape, DType dt, Device dev) {
  Tensor t = empty(shape, dt, dev);
  t.fill_zero();
  return t;
}

Tensor Tensor::borrow(void* data, const std::vector<int64_t>& shape,
                      const std::vector<int64_t>& strides, DType dt, Device dev,
                      std::shared_ptr<void> owner) {
  Tensor t;
  t.storage_ = std::make_shared<Storage>();
  t.storage_->device = dev;
  t.storage_->data = data;
  t.storage_->nbytes = size_t(checked_numel(shape, "Tensor")) * dtype_size(dt);
  t.storage_->owner = std::move(owner);
  t.shape_ = shape;
  t.strides_ = strides;
  t.dtype_ = dt;
  return t;
}

int64_t Tensor::dim(int i) const {
  const int nd = ndim();
  if (i < 0) i += nd;
  if (i < 0 || i >= nd) PCN_THROW(ValueError, "Tensor.dim: index out of range for " << nd << "-D tensor");
  return shape_[i];
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape_) n *= d;
  return n;
}

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;  // NumPy gives empty arrays arbitrary strides
  int64_t s = 1;
  for (int i = ndim() - 1; i >= 0; --i) {
    if (shape_[i] != 1 && strides_[i] != s) return false;
    s *= shape_[i];
  }
  return true;
}

void Tensor::fill_zero() {
  if (!defined() || numel() == 0) return;
  if (!is_contiguous()) PCN_THROW(RuntimeError, "fill_zero on a non-contiguous tensor");
  if (device().is_cpu()) {
    std::memset(raw(), 0, nbytes());
  } else {
    if (!g_fill) PCN_THROW(RuntimeError, "no device fill for " << device().str());
    g_fill(raw(), 0u, nbytes() / 4, device().index);
  }
}

void Tensor::fill_u32(uint32_t pattern) {
  if (!defined() || numel() == 0) return;
  if (!is_contiguous() || nbytes() % 4) PCN_THROW(RuntimeError, "fill_u32 needs a contiguous tensor of whole 32-bit words");
  if (device().is_cpu()) {
    uint32_t* w = static_cast<uint32_t*>(raw());
    for (size_t i = 0; i < nbytes() / 4; ++i) w[i] = pattern;
  } else {
    if (!g_fill) PCN_THROW(RuntimeError, "no device fill for " << device().str());
    g_fill(raw(), pattern, nbytes() / 4, device().index);
  }
}

// Strided host copy into a contiguous destination (any rank).
static void strided_copy_host(const Tensor& src, void* dst) {
  const int nd = src.ndim();
  const size_t isz = src.itemsize();
  const int64_t n = src.numel();
  const char* base = static_cast<const char*>(src.raw());
  char* out = static_cast<char*>(dst);
  std::vector<int64_t> idx(nd, 0);
  for (int64_t e = 0; e < n; ++e) {
    int64_t off = 0;
    for (int d = 0; d < nd; ++d) off += idx[d] * src.strides()[d];
    std::memcpy(out + e * isz, base + off * int64_t(isz), isz);
    for (int d = nd - 1; d >= 0; --d) {
      if (++idx[d] < src.shape()[d]) break;
      idx[d] = 0;
    }
  }
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  if (!device().is_cpu()) PCN_THROW(RuntimeError, "contiguous(): non-contiguous device tensors are not supported");
  Tensor t = empty(shape_, dtype_, device());
  strided_copy_host(*this, t.raw());
  return t;
}

Tensor Tensor::reshape(const std::vector<int64_t>& shape) const {
  std::vector<int64_t> s = shape;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0) PCN_THROW(ValueError, "reshape: only one dimension can be -1, got " << shape_str(shape));
      infer = int(i);
    } else if (s[i] < 0) {
      PCN_THROW(ValueError, "reshape: invalid shape " << shape_str(shape));
    } else {
      known *= s[i];
    }
  }
  const int64_t n = numel();
  if (infer >= 0) {
    if (known == 0 || n % known != 0)
      PCN_THROW(ValueError, "reshape: cannot reshape " << shape_str(shape_) << " into " << shape_str(shape));
    s[infer] = n / known;
  } else if (known != n) {
    PCN_THROW(ValueError, "reshape: cannot reshape " << shape_str(shape_) << " (" << n
                                                     << " elements) into " << shape_str(shape));
  }
  Tensor src = contiguous();
  Tensor t = src;
  t.shape_ = s;
  t.strides_ = contiguous_strides(s);
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  if (src.shape_ != shape_ || src.dtype_ != dtype_)
    PCN_THROW(ValueError, "copy_from: shape/dtype mismatch " << shape_str(src.shape_) << " "
                                                             << dtype_name(src.dtype_) << " -> "
                                                             << shape_str(shape_) << " " << dtype_name(dtype_));
  if (numel() == 0) return;
  if (!is_contiguous()) PCN_THROW(RuntimeError, "copy_from: destination must be contiguous");
  const Device sd = src.device(), dd = device();
  if (sd.is_cpu() && dd.is_cpu()) {
    if (src.is_contiguous()) std::memcpy(raw(), src.raw(), nbytes());
    else strided_copy_host(src, raw());
    return;
  }
  Tensor s = src.is_contiguous() ? src : src.contiguous();
  if (!g_copy) PCN_THROW(RuntimeError, "no device copy available (CUDA not compiled in)");
  const int kind = sd.is_cpu() ? 0 : (dd.is_cpu() ? 1 : 2);
  g_copy(raw(), s.raw(), nbytes(), kind, dd.is_cuda() ? dd.index : sd.index);
}

Tensor Tensor::to(Device dev) const {
  if (dev == device()) return *this;
  Tensor t = empty(shape_, dtype_, dev);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_, device());
  t.copy_from(*this);
  return t;
}

std::string Tensor::repr() const {
  std::ostringstream os;
  os << "Tensor(shape=" << shape_str(shape_) << ", dtype=" << dtype_name(dtype_)
     << ", device='" << device().str() << "')";
  return os.str();
}

// ---------------------------------------------------------------- validation
void check_defined(const Tensor& t, const char* op, const char* arg) {
  if (!t.defined()) PCN_THROW(ValueError, op << ": " << arg << " is undefined");
}
void check_float(const Tensor& t, const char* op, const char* arg) {
  check_defined(t, op, arg);
  if (t.dtype() != DType::F32)
    PCN_THROW(TypeError, op << ": " << arg << " must be float32, got " << dtype_name(t.dtype()));
}
void check_ndim(const Tensor& t, int nd, const char* op, const char* arg, const char* layout) {
  check_defined(t, op, arg);
  if (t.ndim() != nd)
    PCN_THROW(ValueError, op << ": " << arg << " must be " << nd << "-D " << layout << ", got shape "
                             << shape_str(t.shape()));
}
void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  if (a.device() != b.device())
    PCN_THROW(ValueError, op << ": tensors on different devices (" << a.device().str() << " and "
                             << b.device().str() << ")");
}
void check_contiguous(const Tensor& t, const char* op, const char* arg) {
  if (!t.is_contiguous()) PCN_THROW(ValueError, op << ": " << arg << " must be contiguous");
}

}  // namespace pcn
