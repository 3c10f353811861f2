// bind/tensor.cpp — pyconvnet.Tensor and its NumPy interop.
//
// CPU tensors export the buffer protocol, so np.asarray(t) and t.numpy() are
// zero-copy views that keep the Tensor's storage alive. from_numpy() wraps a
// NumPy array without copying (the array is kept alive); tensor() copies.
#include "../tensor.h"

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
      .def("__repr__", &Tensor::repr);

  m.def("from_numpy", &from_numpy, py::arg("array"),
        "Wrap a NumPy array without copying (float32/int32/int64/uint8); the array is kept alive.");
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
