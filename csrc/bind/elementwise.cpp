// bind/elementwise.cpp — Python bindings of the elementwise op family.
#include "../ops/elementwise.h"
#include "bind.h"

namespace pcn {
DType parse_dtype(const std::string& s);  // bind/tensor.cpp

void bind_elementwise(py::module_& m) {
  m.def("bias_add", &bias_add, py::arg("x"), py::arg("b"), PCN_NOGIL,
        "y = x + b, b (C,) over the last axis of x (..., C).");
  m.def("activation_forward", &activation_forward, py::arg("x"), py::arg("name"), py::arg("alpha") = py::none(),
        PCN_NOGIL,
        "y = act(x). name: linear, relu, relu6, leaky_relu (alpha, default 0.2), elu (alpha, default 1), selu, "
        "sigmoid, hard_sigmoid, tanh, softplus, softsign, swish/silu, gelu (erf), gelu_tanh, exponential.");
  m.def("activation_backward", &activation_backward, py::arg("dy"), py::arg("x") = py::none(),
        py::arg("y") = py::none(), py::arg("name") = "linear", py::arg("alpha") = py::none(), PCN_NOGIL,
        "dx = dy * act'(x). x: forward input, y: forward output (either may be None when the activation "
        "does not need it: sigmoid/tanh/exponential/relu can use y alone).");
  m.def("softmax_forward", &softmax_forward, py::arg("x"), py::arg("axis") = -1, PCN_NOGIL,
        "Numerically stable softmax along axis.");
  m.def("log_softmax_forward", &log_softmax_forward, py::arg("x"), py::arg("axis") = -1, PCN_NOGIL,
        "Numerically stable log_softmax along axis.");
  m.def("softmax_backward", &softmax_backward, py::arg("dy"), py::arg("y"), py::arg("axis") = -1, PCN_NOGIL,
        "dx = y * (dy - sum(dy*y, axis)); y is the softmax output.");
  m.def("log_softmax_backward", &log_softmax_backward, py::arg("dy"), py::arg("y"), py::arg("axis") = -1,
        PCN_NOGIL, "dx = dy - exp(y) * sum(dy, axis); y is the log_softmax output.");
  m.def("binary", &binary, py::arg("op"), py::arg("a"), py::arg("b"), PCN_NOGIL,
        "c = a op b with NumPy broadcasting; op in add, sub, mul, div, maximum, minimum, pow.");
  m.def("binary_scalar", &binary_scalar, py::arg("op"), py::arg("x"), py::arg("s"), py::arg("reverse") = false,
        PCN_NOGIL, "y = x op s (or s op x when reverse).");
  m.def("unary", &unary, py::arg("op"), py::arg("x"), PCN_NOGIL,
        "y = op(x); op in neg, exp, log, sqrt, rsqrt, square, abs, sign, reciprocal, sin, cos, floor, round, "
        "tanh, sigmoid, log1p, expm1.");
  m.def("reduce", [](const std::string& op, const Tensor& x, py::object axes, bool keepdims) {
          std::optional<std::vector<int64_t>> ax;
          if (!axes.is_none()) {
            if (py::isinstance<py::int_>(axes)) ax = std::vector<int64_t>{axes.cast<int64_t>()};
            else {
              try {
                ax = axes.cast<std::vector<int64_t>>();
              } catch (const py::cast_error&) {
                throw TypeError("reduce: axes must be None, an int or a sequence of ints, got " +
                                std::string(py::str(py::type::handle_of(axes))));
              }
            }
          }
          py::gil_scoped_release g;
          return reduce(op, x, ax, keepdims);
        }, py::arg("op"), py::arg("x"), py::arg("axes") = py::none(), py::arg("keepdims") = false,
        "Reduce over axes (None = all; an int or a list; negative allowed); op in sum, mean, max, min, prod.");
  m.def("sum_to_shape", &sum_to_shape, py::arg("x"), py::arg("shape"), PCN_NOGIL,
        "Sum a broadcast result back to `shape` (the backward of broadcasting).");
  m.def("transpose", &transpose, py::arg("x"), py::arg("perm"), PCN_NOGIL, "Materialized transpose (any dtype).");
  m.def("slice_axis", &slice_axis, py::arg("x"), py::arg("axis"), py::arg("start"), py::arg("stop"), PCN_NOGIL,
        "x[..., start:stop, ...] along axis (copy; any dtype).");
  m.def("concat", &concat, py::arg("xs"), py::arg("axis") = -1, PCN_NOGIL,
        "Concatenate tensors along axis (any dtype, all the same).");
  m.def("pad2d", &pad2d, py::arg("x"), py::arg("top"), py::arg("bottom"), py::arg("left"), py::arg("right"),
        py::arg("value") = 0.0f, PCN_NOGIL, "Pad H and W of x (N,H,W,C) with a constant.");
  m.def("pad2d_backward", &pad2d_backward, py::arg("dy"), py::arg("top"), py::arg("bottom"), py::arg("left"),
        py::arg("right"), PCN_NOGIL, "dx = dy cropped by the paddings.");
  m.def("dropout_forward", &dropout_forward, py::arg("x"), py::arg("rate"), py::arg("seed"), PCN_NOGIL,
        "(y, mask uint8): y = x*mask/(1-rate); mask depends only on (seed, element index).");
  m.def("dropout_backward", &dropout_backward, py::arg("dy"), py::arg("mask"), py::arg("rate"), PCN_NOGIL,
        "dx = dy*mask/(1-rate).");
  m.def("fill_", &fill_, py::arg("t"), py::arg("value"), PCN_NOGIL, "t[...] = value in place.");
  m.def("axpy_", &axpy_, py::arg("y"), py::arg("x"), py::arg("alpha") = 1.0f, PCN_NOGIL, "y += alpha*x in place.");
  m.def("scale_", &scale_, py::arg("x"), py::arg("alpha"), PCN_NOGIL, "x *= alpha in place.");
  m.def("cast", [](const Tensor& x, py::object dt) {
          // a name ("int32") or anything np.dtype() accepts (np.int32, np.dtype("u1"))
          std::string name = py::isinstance<py::str>(dt) ? dt.cast<std::string>() : std::string();
          if (name.empty()) {
            try {
              name = py::str(py::module_::import("numpy").attr("dtype")(dt).attr("name"));
            } catch (const py::error_already_set&) {
              throw TypeError("cast: dtype must be a dtype name or a NumPy dtype, got " + std::string(py::str(dt)));
            }
          }
          const DType d = parse_dtype(name);
          py::gil_scoped_release g;
          return cast(x, d);
        }, py::arg("x"), py::arg("dtype"),
        "Convert between float32/int32/int64/uint8 (float->int truncates; NaN/out of range -> 0).");
  m.def("where", &where, py::arg("condition"), py::arg("x"), py::arg("y"), PCN_NOGIL,
        "condition ? x : y elementwise (all the same shape).");
  m.def("clip", &clip, py::arg("x"), py::arg("lo"), py::arg("hi"), PCN_NOGIL, "min(max(x, lo), hi).");
  m.def("embedding_lookup", &embedding_lookup, py::arg("ids"), py::arg("table"), PCN_NOGIL,
        "table (vocab, dim) rows gathered by integer ids (...): (..., dim). An id outside [0, vocab) is a "
        "ValueError on the CPU (a zero row on a device).");
  m.def("embedding_backward", &embedding_backward, py::arg("dy"), py::arg("ids"), py::arg("vocab"),
        py::arg("out") = std::nullopt, py::arg("accumulate") = false, PCN_NOGIL,
        "dtable (vocab, dim): each row the sum of dy's rows whose id it is (deterministic order); "
        "accumulate=True adds into out.");
  m.def("one_hot", &one_hot, py::arg("labels"), py::arg("depth"), PCN_NOGIL,
        "float32 (..., depth); out-of-range labels give an all-zero row (tf.one_hot).");
  m.def("argmax", &argmax, py::arg("x"), py::arg("axis") = -1, PCN_NOGIL, "int64 index of the first maximum.");
  m.def("accuracy_count", &accuracy_count, py::arg("pred"), py::arg("labels"), PCN_NOGIL,
        "Number of rows where argmax(pred) equals the label (sparse (N,) or one-hot (N,C)).");
}
}  // namespace pcn
