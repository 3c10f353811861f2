// tensor.h — Tensor: shape, strides, dtype, device and an owning Storage.
//
// Memory comes from one Allocator per device kind. The CPU allocator is
// 64-byte aligned; the CUDA backend installs its caching allocator with
// set_allocator(DeviceType::CUDA, ...) when it is compiled in. Copies between
// devices go through the copy hook the CUDA backend installs; nothing here
// includes CUDA headers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common.h"

namespace pcn {

enum class DType : int8_t { F32 = 0, I32 = 1, I64 = 2, U8 = 3 };
size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "float32", "int32", "int64", "uint8"

enum class DeviceType : int8_t { CPU = 0, CUDA = 1 };
struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;              // "cpu", "cuda:0"
  static Device parse(const std::string& s);  // "cpu", "cuda", "cuda:1" (ValueError otherwise)
};

struct Allocator {
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes, int device_index) = 0;
  virtual void deallocate(void* p, size_t nbytes, int device_index) = 0;
};
void set_allocator(DeviceType t, Allocator* a);
Allocator* get_allocator(DeviceType t);  // RuntimeError if none (e.g. CUDA not compiled in)

// Copy hook for anything that touches device memory: kind 0 H2D, 1 D2H, 2 D2D.
using DeviceCopyFn = void (*)(void* dst, const void* src, size_t nbytes, int kind, int device_index);
void set_device_copy(DeviceCopyFn fn);
// Fill device memory with a 32-bit pattern (used for poisoning and zeros).
using DeviceFillFn = void (*)(void* dst, uint32_t pattern, size_t n32, int device_index);
void set_device_fill(DeviceFillFn fn);

// Debug aid for tests: when on, every new allocation is filled with NaN
// (float) / 0xDEADBEEF-like junk so an unwritten output element cannot pass.
void set_poison_allocations(bool on);
bool poison_allocations();

struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device;
  Allocator* alloc = nullptr;     // null when the memory is borrowed
  std::shared_ptr<void> owner;    // keeps borrowed memory (e.g. a NumPy array) alive
  ~Storage();
};

class Tensor {
 public:
  Tensor() = default;
  static Tensor empty(const std::vector<int64_t>& shape, DType dt = DType::F32,
                      Device dev = Device{});
  static Tensor zeros(const std::vector<int64_t>& shape, DType dt = DType::F32,
                      Device dev = Device{});
  // Wrap memory owned by someone else (zero-copy); owner is kept alive.
  static Tensor borrow(void* data, const std::vector<int64_t>& shape,
                       const std::vector<int64_t>& strides, DType dt, Device dev,
                       std::shared_ptr<void> owner);

  bool defined() const { return storage_ != nullptr; }
  const std::vector<int64_t>& shape() const { return shape_; }
  const std::vector<int64_t>& strides() const { return strides_; }  // in elements
  int64_t dim(int i) const;   // negative i counts from the end
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const;
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device : Device{}; }
  size_t itemsize() const { return dtype_size(dtype_); }
  size_t nbytes() const { return size_t(numel()) * itemsize(); }
  bool is_contiguous() const;

  void* raw() const { return static_cast<char*>(storage_->data) + offset_bytes_; }
  template <class T> T* data() const { return static_cast<T*>(raw()); }
  const std::shared_ptr<Storage>& storage() const { return storage_; }

  Tensor contiguous() const;                                  // self if already
  Tensor reshape(const std::vector<int64_t>& shape) const;    // view; -1 allowed once
  Tensor to(Device dev) const;                                 // self if same device
  Tensor clone() const;
  void copy_from(const Tensor& src);                           // same shape & dtype
  void fill_zero();
  // Every 32-bit word = pattern (contiguous; on a device: the device fill, stream-ordered, no host copy).
  void fill_u32(uint32_t pattern);
  std::string repr() const;

 private:
  std::shared_ptr<Storage> storage_;
  size_t offset_bytes_ = 0;
  std::vector<int64_t> shape_, strides_;
  DType dtype_ = DType::F32;
};

// Shape helpers for the fronts.
std::string shape_str(const std::vector<int64_t>& s);  // "(2, 3, 4)"
int64_t checked_numel(const std::vector<int64_t>& s, const char* op);  // ValueError on <0 / overflow

// Validation helpers for the fronts (all throw with the op's name).
void check_defined(const Tensor& t, const char* op, const char* arg);
void check_float(const Tensor& t, const char* op, const char* arg);
void check_ndim(const Tensor& t, int nd, const char* op, const char* arg, const char* layout);
void check_same_device(const Tensor& a, const Tensor& b, const char* op);
void check_contiguous(const Tensor& t, const char* op, const char* arg);

}  // namespace pcn
