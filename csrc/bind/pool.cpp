// bind/pool.cpp — Python bindings of the pool op family.
#include "../ops/pool2d.h"
#include "bind.h"

namespace pcn {
void bind_pool(py::module_& m) {
  m.def("pool2d_forward", &pool2d_forward, py::arg("x"), py::arg("mode"), py::arg("ksize"), py::arg("strides"),
        py::arg("padding") = std::string("valid"), PCN_NOGIL,
        "x (N,H,W,C) -> y (N,OH,OW,OC). mode 'max'|'avg'; ksize (kh,kw[,kc]), strides (sh,sw[,sc]) (kc > 1 pools "
        "over depth, never padded); padding 'valid'|'same' (TF) or [top, bottom, left, right]. avg divides by the "
        "number of non-padding elements; an all-padding window gives 0; a NaN in a max window gives NaN.");
  m.def("pool2d_backward", &pool2d_backward, py::arg("dy"), py::arg("x"), py::arg("mode"), py::arg("ksize"),
        py::arg("strides"), py::arg("padding") = std::string("valid"), PCN_NOGIL,
        "dx (N,H,W,C), a new tensor. max routes each dy to the FIRST maximum of its window in (kh,kw,kc) "
        "row-major order (recomputed from x); overlapping windows accumulate.");
  m.def("global_pool_forward", &global_pool_forward, py::arg("x"), py::arg("mode"), PCN_NOGIL,
        "x (N,H,W,C) -> y (N,C): mean ('avg', summed in double) or max ('max') over H and W.");
  m.def("global_pool_backward", &global_pool_backward, py::arg("dy"), py::arg("x"), py::arg("mode"), PCN_NOGIL,
        "dy (N,C), x (N,H,W,C) -> dx (N,H,W,C): dy/(H*W) everywhere ('avg') or dy at the first maximum ('max').");
}
}  // namespace pcn
