// bind/gemm.cpp — Python bindings of GEMM.
#include "../ops/gemm.h"
#include "bind.h"

namespace pcn {
void bind_gemm(py::module_& m) {
  m.def("matmul", &matmul, py::arg("a"), py::arg("b"), py::arg("transpose_a") = false,
        py::arg("transpose_b") = false, PCN_NOGIL,
        "op(a) @ op(b). a (M,K) [(K,M) if transpose_a] or batched (B,M,K); b (K,N) [(N,K) if transpose_b] "
        "or (B,K,N). Returns a new float32 Tensor on a's device.");
  m.def("gemm_into", &gemm_into, py::arg("c"), py::arg("a"), py::arg("b"), py::arg("transpose_a") = false,
        py::arg("transpose_b") = false, py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f, PCN_NOGIL,
        "c = alpha*op(a)@op(b) + beta*c in place; all rank-2 contiguous float32 on one device.");
}
}  // namespace pcn
