// bind/conv.cpp — Python bindings of the conv op family.
#include "../ops/conv2d.h"
#include "bind.h"

namespace pcn {
void bind_conv(py::module_& m) {
  using V = std::vector<int64_t>;
  m.def("conv2d_forward", &conv2d_forward, py::arg("x"), py::arg("w"), py::arg("b") = py::none(),
        py::arg("strides") = V{1, 1}, py::arg("padding") = ConvPadding(std::string("valid")),
        py::arg("dilations") = V{1, 1}, py::arg("groups") = 1, py::arg("activation") = "none", PCN_NOGIL,
        "y (N,OH,OW,K) = act(conv2d(x (N,H,W,C), w (KH,KW,C/groups,K)) + b (K)).\n"
        "strides/dilations: (h, w) or one int in a list; padding: 'valid' | 'same' (TF) | [top, bottom, left, "
        "right]; activation: 'none' | 'relu'.");
  m.def("conv2d_backward_input", &conv2d_backward_input, py::arg("dy"), py::arg("w"), py::arg("input_shape"),
        py::arg("strides") = V{1, 1}, py::arg("padding") = ConvPadding(std::string("valid")),
        py::arg("dilations") = V{1, 1}, py::arg("groups") = 1, PCN_NOGIL,
        "dx (input_shape = N,H,W,C) of conv2d_forward given dy (N,OH,OW,K) and w (KH,KW,C/groups,K). New tensor.");
  m.def("conv2d_backward_filter", &conv2d_backward_filter, py::arg("dy"), py::arg("x"), py::arg("filter_shape"),
        py::arg("strides") = V{1, 1}, py::arg("padding") = ConvPadding(std::string("valid")),
        py::arg("dilations") = V{1, 1}, py::arg("groups") = 1, py::arg("out") = py::none(),
        py::arg("accumulate") = false, PCN_NOGIL,
        "dw (filter_shape = KH,KW,C/groups,K) summed over the batch. out= writes into out (adds when "
        "accumulate=True) and returns it; otherwise a new tensor.");
  m.def("conv2d_backward_bias", &conv2d_backward_bias, py::arg("dy"), py::arg("out") = py::none(),
        py::arg("accumulate") = false, PCN_NOGIL,
        "db (K) = sum of dy (..., K) over all axes but the last (any rank >= 1). out=/accumulate as "
        "conv2d_backward_filter.");
}
}  // namespace pcn
