// bind/tensor.cpp — pyconvnet.Tensor and its NumPy interop.
//
// CPU tensors export the buffer protocol, so np.asarray(t) and t.numpy() are
// zero-copy views that keep the Tensor's storage alive. from_numpy() wraps a
// NumPy array without copying (the array is kept alive); tensor() copies.
#include "../tensor.h"

#include <cstring>

#include "../cuda_api.h"
#include "bind.h"

namespace pcn {

static DType dtype_from_numpy(const py::dtype& dt, const char* op) {
  const char k = dt.kind();
  const auto sz = dt.itemsize();
  if (k == 'f' && sz == 4) return DType::F32;
  if (k == 'i' && sz == 4) return DType::I32;
  if (k == 'i' && sz == 8) return DType::I64;
  if (k == 'u' && sz == 1) return DType::U8;
  throw TypeError(std::string(op) + ": unsupported dtype " + std::string(py::str(dt)) +
                  " (expected float32, int32, int64 or uint8)");
}

static py::dtype numpy_dtype(DType t) {
  switch (t) {
    case DType::F32: return py::dtype::of<float>();
    case DType::I32: return py::dtype::of<int32_t>();
    case DType::I64: return py::dtype::of<int64_t>();
    case DType::U8: return py::dtype::of<uint8_t>();
  }
  return py::dtype::of<float>();
}

DType parse_dtype(const std::string& s) {
  if (s == "float32" || s == "f4" || s == "float") return DType::F32;
  if (s == "int32" || s == "i4") return DType::I32;
  if (s == "int64" || s == "i8") return DType::I64;
  if (s == "uint8" || s == "u1") return DType::U8;
  throw TypeError("dtype: expected float32, int32, int64 or uint8, got '" + s + "'");
}

// Zero-copy wrap of a NumPy array (any strides with whole-element steps).
static Tensor from_numpy(py::array arr) {
  const DType dt = dtype_from_numpy(arr.dtype(), "from_numpy");
  std::vector<int64_t> shape(arr.ndim()), strides(arr.ndim());
  const int64_t isz = int64_t(dtype_size(dt));
  for (int i = 0; i < arr.ndim(); ++i) {
    shape[i] = arr.shape(i);
    if (arr.strides(i) % isz != 0) throw ValueError("from_numpy: array strides are not a multiple of the item size");
    strides[i] = arr.strides(i) / isz;
    if (strides[i] < 0) throw ValueError("from_numpy: negative strides are not supported; pass a copy");
  }
  auto* keep = new py::object(arr);
  std::shared_ptr<void> owner(keep, [](void* p) {
    py::gil_scoped_acquire g;
    delete static_cast<py::object*>(p);
  });
  return Tensor::borrow(arr.mutable_data(), shape, strides, dt, Device{}, owner);
}

static py::array to_numpy(const Tensor& t0, py::object self) {
  if (!t0.defined()) throw ValueError("numpy(): undefined tensor");
  if (!t0.device().is_cpu()) {
    Tensor h = t0.to(Device{});
    return to_numpy(h, py::cast(h));
  }
  std::vector<py::ssize_t> shape(t0.shape().begin(), t0.shape().end()), strides(t0.ndim());
  for (int i = 0; i < t0.ndim(); ++i) strides[i] = t0.strides()[i] * py::ssize_t(t0.itemsize());
  return py::array(numpy_dtype(t0.dtype()), shape, strides, t0.raw(), self);
}

static std::vector<int64_t> shape_arg(py::args args) {
  std::vector<int64_t> s;
  if (args.size() == 1 && (py::isinstance<py::tuple>(args[0]) || py::isinstance<py::list>(args[0])))
    for (auto v : args[0]) s.push_back(v.cast<int64_t>());
  else
    for (auto v : args) s.push_back(v.cast<int64_t>());
  return s;
}

// ---------------------------------------------------------------- DLPack
// The DLPack ABI (dlpack.h, v1.x), declared here from its public layout.
namespace dl {
enum DeviceType : int32_t { kCPU = 1, kCUDA = 2, kCUDAHost = 3, kCUDAManaged = 13 };
enum TypeCode : uint8_t { kInt = 0, kUInt = 1, kFloat = 2, kBfloat = 4 };
struct Device { int32_t device_type; int32_t device_id; };
struct DataType { uint8_t code; uint8_t bits; uint16_t lanes; };
struct Tensor {
  void* data;
  Device device;
  int32_t ndim;
  DataType dtype;
  int64_t* shape;
  int64_t* strides;  // in elements; may be null (compact row-major)
  uint64_t byte_offset;
};
struct Managed {  // DLManagedTensor (capsule "dltensor")
  Tensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(Managed* self);
};
struct PackVersion { uint32_t major; uint32_t minor; };
struct ManagedVersioned {  // DLManagedTensorVersioned (capsule "dltensor_versioned")
  PackVersion version;
  void* manager_ctx;
  void (*deleter)(ManagedVersioned* self);
  uint64_t flags;
  Tensor dl_tensor;
};
constexpr uint64_t kFlagReadOnly = 1;
}  // namespace dl

namespace {
// What an exported capsule owns: the Tensor (keeps the storage alive) and the
// shape/strides arrays the DLTensor points at.
struct DlpackCtx {
  Tensor t;
  std::vector<int64_t> shape, strides;
};

template <class M>
void fill_dltensor(M* m, DlpackCtx* ctx) {
  const Tensor& t = ctx->t;
  dl::Tensor& d = m->dl_tensor;
  d.data = t.raw();  // byte_offset 0: data already points at the first element
  d.byte_offset = 0;
  d.device.device_type = t.device().is_cuda() ? dl::kCUDA : dl::kCPU;
  d.device.device_id = t.device().is_cuda() ? t.device().index : 0;
  d.ndim = t.ndim();
  switch (t.dtype()) {
    case DType::F32: d.dtype = {dl::kFloat, 32, 1}; break;
    case DType::I32: d.dtype = {dl::kInt, 32, 1}; break;
    case DType::I64: d.dtype = {dl::kInt, 64, 1}; break;
    case DType::U8: d.dtype = {dl::kUInt, 8, 1}; break;
  }
  d.shape = ctx->shape.data();
  d.strides = ctx->strides.data();
  m->manager_ctx = ctx;
}

void delete_managed(dl::Managed* m) {
  delete static_cast<DlpackCtx*>(m->manager_ctx);
  delete m;
}
void delete_managed_versioned(dl::ManagedVersioned* m) {
  delete static_cast<DlpackCtx*>(m->manager_ctx);
  delete m;
}

// A capsule not consumed (still named "dltensor"/"dltensor_versioned") is
// freed here; a consumer renames it "used_..." and calls the deleter itself.
// A consumer that rejects the capsule drops it while raising its own error:
// that exception is kept (clearing it made np.from_dlpack of a CUDA tensor
// fail with "SystemError: returned NULL without setting an exception").
void capsule_destructor(PyObject* cap) {
  PyObject *etype, *evalue, *etb;
  PyErr_Fetch(&etype, &evalue, &etb);
  if (PyCapsule_IsValid(cap, "dltensor")) {
    auto* m = static_cast<dl::Managed*>(PyCapsule_GetPointer(cap, "dltensor"));
    if (m && m->deleter) m->deleter(m);
  } else if (PyCapsule_IsValid(cap, "dltensor_versioned")) {
    auto* m = static_cast<dl::ManagedVersioned*>(PyCapsule_GetPointer(cap, "dltensor_versioned"));
    if (m && m->deleter) m->deleter(m);
  }
  PyErr_Clear();
  PyErr_Restore(etype, evalue, etb);
}

// Make queued device work on the tensor visible to any consumer stream.
void ready_for_export(const Tensor& t) {
  if (t.device().is_cuda()) {
    py::gil_scoped_release nogil;
    cuda_stream_synchronize(t.device().index);
  }
}

py::object to_dlpack(const Tensor& t, py::object stream, py::object max_version, py::object dl_device,
                     py::object copy) {
  if (!t.defined()) throw ValueError("__dlpack__: undefined tensor");
  if (!copy.is_none() && copy.cast<bool>())
    throw py::buffer_error("__dlpack__: copy=True is not supported; export without a copy");
  if (!dl_device.is_none()) {
    auto dv = dl_device.cast<std::pair<int, int>>();
    const int want_type = t.device().is_cuda() ? dl::kCUDA : dl::kCPU;
    const int want_id = t.device().is_cuda() ? t.device().index : 0;
    if (dv.first != want_type || dv.second != want_id)
      throw py::buffer_error("__dlpack__: cannot export to another device without a copy");
  }
  (void)stream;  // our stream is synchronized below, so the data is ready on any stream
  ready_for_export(t);
  auto* ctx = new DlpackCtx{t, t.shape(), t.strides()};
  bool versioned = false;
  if (!max_version.is_none()) {
    auto mv = max_version.cast<py::tuple>();
    versioned = mv.size() >= 1 && mv[0].cast<int>() >= 1;
  }
  if (versioned) {
    auto* m = new dl::ManagedVersioned{};
    m->version = {1, 0};
    m->flags = 0;
    m->deleter = delete_managed_versioned;
    fill_dltensor(m, ctx);
    return py::reinterpret_steal<py::object>(PyCapsule_New(m, "dltensor_versioned", capsule_destructor));
  }
  auto* m = new dl::Managed{};
  m->deleter = delete_managed;
  fill_dltensor(m, ctx);
  return py::reinterpret_steal<py::object>(PyCapsule_New(m, "dltensor", capsule_destructor));
}

py::tuple dlpack_device(const Tensor& t) {
  if (t.device().is_cuda()) return py::make_tuple(int(dl::kCUDA), t.device().index);
  return py::make_tuple(int(dl::kCPU), 0);
}

// Consume a capsule: wrap its memory (zero-copy) in a Tensor whose owner calls
// the producer's deleter.
Tensor from_dlpack_capsule(py::capsule cap) {
  const char* name = PyCapsule_GetName(cap.ptr());
  const bool versioned = name && std::strcmp(name, "dltensor_versioned") == 0;
  if (!name || (!versioned && std::strcmp(name, "dltensor") != 0))
    throw ValueError("from_dlpack: expected an unconsumed DLPack capsule ('dltensor' or 'dltensor_versioned')");
  void* raw = PyCapsule_GetPointer(cap.ptr(), name);
  if (!raw) throw py::error_already_set();
  const dl::Tensor* d;
  std::function<void()> release;
  if (versioned) {
    auto* m = static_cast<dl::ManagedVersioned*>(raw);
    if (m->version.major != 1)
      throw ValueError("from_dlpack: unsupported DLPack major version " + std::to_string(m->version.major));
    d = &m->dl_tensor;
    release = [m] { if (m->deleter) m->deleter(m); };
  } else {
    auto* m = static_cast<dl::Managed*>(raw);
    d = &m->dl_tensor;
    release = [m] { if (m->deleter) m->deleter(m); };
  }
  DType dt;
  const dl::DataType ty = d->dtype;
  if (ty.lanes != 1) throw TypeError("from_dlpack: vector dtypes (lanes != 1) are not supported");
  if (ty.code == dl::kFloat && ty.bits == 32) dt = DType::F32;
  else if (ty.code == dl::kInt && ty.bits == 32) dt = DType::I32;
  else if (ty.code == dl::kInt && ty.bits == 64) dt = DType::I64;
  else if (ty.code == dl::kUInt && ty.bits == 8) dt = DType::U8;
  else
    throw TypeError("from_dlpack: unsupported dtype (code " + std::to_string(ty.code) + ", bits " +
                    std::to_string(ty.bits) + "); expected float32, int32, int64 or uint8");
  Device dev;
  if (d->device.device_type == dl::kCPU || d->device.device_type == dl::kCUDAHost) dev = Device{};
  else if (d->device.device_type == dl::kCUDA || d->device.device_type == dl::kCUDAManaged)
    dev = Device{DeviceType::CUDA, d->device.device_id};
  else
    throw ValueError("from_dlpack: unsupported device type " + std::to_string(d->device.device_type));
  if (d->ndim < 0) throw ValueError("from_dlpack: negative ndim");
  std::vector<int64_t> shape(d->shape, d->shape + d->ndim), strides(d->ndim);
  if (d->strides) {
    for (int i = 0; i < d->ndim; ++i) {
      strides[i] = d->strides[i];
      if (strides[i] < 0) throw ValueError("from_dlpack: negative strides are not supported");
    }
  } else {
    int64_t s = 1;
    for (int i = d->ndim - 1; i >= 0; --i) { strides[i] = s; s *= std::max<int64_t>(shape[i], 1); }
  }
  void* data = static_cast<char*>(d->data) + d->byte_offset;
  // From here on we own the producer's tensor: rename the capsule so its
  // destructor leaves it alone, and release it when our storage dies.
  PyCapsule_SetName(cap.ptr(), versioned ? "used_dltensor_versioned" : "used_dltensor");
  auto* rel = new std::function<void()>(std::move(release));
  std::shared_ptr<void> owner(rel, [](void* p) {
    auto* f = static_cast<std::function<void()>*>(p);
    py::gil_scoped_acquire g;  // producer deleters may touch Python objects
    (*f)();
    delete f;
  });
  return Tensor::borrow(data, shape, strides, dt, dev, owner);
}

Tensor from_dlpack(py::object obj) {
  if (py::isinstance<py::capsule>(obj)) return from_dlpack_capsule(obj.cast<py::capsule>());
  if (!py::hasattr(obj, "__dlpack__")) throw TypeError("from_dlpack: object has no __dlpack__ method");
  // Ask a CUDA producer to make the data ready on our stream.
  py::object stream = py::none();
  if (py::hasattr(obj, "__dlpack_device__")) {
    auto dv = obj.attr("__dlpack_device__")().cast<std::pair<int, int>>();
    if (dv.first == dl::kCUDA) {
      const uintptr_t h = cuda_stream_handle(dv.second);
      stream = py::int_(h);
    }
  }
  py::object cap;
  try {
    cap = obj.attr("__dlpack__")(py::arg("stream") = stream, py::arg("max_version") = py::make_tuple(1, 0));
  } catch (py::error_already_set& e) {
    if (!e.matches(PyExc_TypeError)) throw;
    cap = obj.attr("__dlpack__")(py::arg("stream") = stream);  // producer predates max_version
  }
  return from_dlpack_capsule(cap.cast<py::capsule>());
}

// __cuda_array_interface__ (v3) for CUDA tensors; AttributeError otherwise, so
// hasattr() is False for CPU tensors.
py::dict cuda_array_interface(const Tensor& t) {
  if (!t.defined() || !t.device().is_cuda())
    throw py::attribute_error("__cuda_array_interface__ is only defined for CUDA tensors");
  ready_for_export(t);
  py::dict d;
  const char* ts = t.dtype() == DType::F32 ? "<f4" : t.dtype() == DType::I32 ? "<i4"
                   : t.dtype() == DType::I64 ? "<i8" : "|u1";
  py::tuple shape(t.ndim());
  for (int i = 0; i < t.ndim(); ++i) shape[i] = t.shape()[i];
  d["shape"] = shape;
  d["typestr"] = ts;
  d["data"] = py::make_tuple(t.numel() == 0 ? uintptr_t(0) : reinterpret_cast<uintptr_t>(t.raw()), false);
  d["version"] = 3;
  if (t.is_contiguous()) {
    d["strides"] = py::none();
  } else {
    py::tuple st(t.ndim());
    for (int i = 0; i < t.ndim(); ++i) st[i] = t.strides()[i] * int64_t(t.itemsize());
    d["strides"] = st;
  }
  // The producer's stream (already synchronized above, so waiting on it again
  // is a no-op for the consumer).
  d["stream"] = py::int_(cuda_stream_handle(t.device().index));
  return d;
}
}  // namespace

void bind_tensor(py::module_& m) {
  py::class_<Tensor>(m, "Tensor", py::buffer_protocol(),
                     "An n-dimensional array on one device (float32 for data; int32/int64/uint8 for labels).")
      .def_buffer([](Tensor& t) -> py::buffer_info {
        if (!t.device().is_cpu())
          throw std::runtime_error("Tensor on " + t.device().str() + " has no host buffer; call .numpy() or .to('cpu')");
        std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end()), strides(t.ndim());
        for (int i = 0; i < t.ndim(); ++i) strides[i] = t.strides()[i] * py::ssize_t(t.itemsize());
        std::string fmt = t.dtype() == DType::F32   ? py::format_descriptor<float>::format()
                          : t.dtype() == DType::I32 ? py::format_descriptor<int32_t>::format()
                          : t.dtype() == DType::I64 ? py::format_descriptor<int64_t>::format()
                                                    : py::format_descriptor<uint8_t>::format();
        return py::buffer_info(t.raw(), py::ssize_t(t.itemsize()), fmt, t.ndim(), shape, strides);
      })
      .def_property_readonly("shape", [](const Tensor& t) {
        py::tuple s(t.ndim());
        for (int i = 0; i < t.ndim(); ++i) s[i] = t.shape()[i];
        return s;
      })
      .def_property_readonly("dtype", [](const Tensor& t) { return std::string(dtype_name(t.dtype())); })
      // NumPy asks the buffer protocol first and, when it fails (a device tensor),
      // silently makes a 0-d object array; __array__ is asked next: a CPU tensor
      // gives its zero-copy view, a device tensor the error the buffer could not pass on.
      .def("__array__",
           [](py::object self, py::object dtype, py::object copy) -> py::object {
             const Tensor& t = self.cast<const Tensor&>();
             if (!t.device().is_cpu())
               throw py::type_error("np.asarray: Tensor on " + t.device().str() +
                                    " has no host buffer; call .numpy() (a host copy) or .to('cpu')");
             py::object a = to_numpy(t, self);
             if (!dtype.is_none()) a = a.attr("astype")(dtype, py::arg("copy") = false);
             if (!copy.is_none() && copy.cast<bool>()) a = a.attr("copy")();
             return a;
           },
           py::arg("dtype") = py::none(), py::arg("copy") = py::none())
      .def_property_readonly("device", [](const Tensor& t) { return t.device().str(); })
      .def_property_readonly("ndim", &Tensor::ndim)
      .def_property_readonly("size", &Tensor::numel)
      .def_property_readonly("nbytes", &Tensor::nbytes)
      .def("is_contiguous", &Tensor::is_contiguous)
      .def("data_ptr", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.raw()); })
      .def("numpy", [](py::object self) { return to_numpy(self.cast<const Tensor&>(), self); },
           "A NumPy array: a zero-copy view for CPU tensors, a host copy for device tensors.")
      .def("to", [](const Tensor& t, const std::string& dev) { return t.to(Device::parse(dev)); },
           py::arg("device"), "A copy on `device` ('cpu', 'cuda', 'cuda:N'); self if already there.")
      .def("cpu", [](const Tensor& t) { return t.to(Device{}); })
      .def("contiguous", &Tensor::contiguous)
      .def("clone", &Tensor::clone)
      .def("reshape", [](const Tensor& t, py::args a) { return t.reshape(shape_arg(a)); })
      .def("copy_", [](Tensor& t, const Tensor& src) { t.copy_from(src); return t; }, py::arg("src"),
           PCN_NOGIL)
      .def("zero_", [](Tensor& t) { t.fill_zero(); return t; })
      .def("__len__", [](const Tensor& t) {
        if (t.ndim() == 0) throw py::type_error("len() of a 0-d tensor");
        return t.shape()[0];
      })
      .def("__repr__", &Tensor::repr)
      .def_property_readonly("__cuda_array_interface__", &cuda_array_interface,
                             "CUDA Array Interface v3 (CUDA tensors only).")
      .def("__dlpack__", &to_dlpack, py::kw_only(), py::arg("stream") = py::none(),
           py::arg("max_version") = py::none(), py::arg("dl_device") = py::none(), py::arg("copy") = py::none(),
           "Export as a DLPack capsule (zero-copy; CPU or CUDA).")
      .def("__dlpack_device__", &dlpack_device, "(device_type, device_id): (1, 0) CPU, (2, N) CUDA.");

  m.def("from_numpy", &from_numpy, py::arg("array"),
        "Wrap a NumPy array without copying (float32/int32/int64/uint8); the array is kept alive.");
  m.def("from_dlpack", &from_dlpack, py::arg("obj"),
        "Zero-copy Tensor from any object with __dlpack__ (torch, NumPy, CuPy, ...) or a DLPack capsule.");
  m.def("tensor", [](py::array arr, const std::string& device) {
          Tensor src = from_numpy(arr);
          Device d = Device::parse(device);
          Tensor out = Tensor::empty(src.shape(), src.dtype(), d);
          out.copy_from(src);
          return out;
        }, py::arg("array"), py::arg("device") = "cpu",
        "A new Tensor holding a copy of `array` (float32/int32/int64/uint8) on `device`.");
  m.def("empty", [](py::args a, const std::string& dtype, const std::string& device) {
          return Tensor::empty(shape_arg(a), parse_dtype(dtype), Device::parse(device));
        }, py::kw_only(), py::arg("dtype") = "float32", py::arg("device") = "cpu");
  m.def("zeros", [](py::args a, const std::string& dtype, const std::string& device) {
          return Tensor::zeros(shape_arg(a), parse_dtype(dtype), Device::parse(device));
        }, py::kw_only(), py::arg("dtype") = "float32", py::arg("device") = "cpu");
}

}  // namespace pcn
