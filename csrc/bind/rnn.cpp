// bind/rnn.cpp — Python bindings of the rnn op family.
#include "../ops/rnn.h"
#include "bind.h"

namespace pcn {
void bind_rnn(py::module_& m) {
  m.def("rnn_forward", &rnn_forward, py::arg("x"), py::arg("kernel"), py::arg("recurrent_kernel"),
        py::arg("bias") = py::none(), py::arg("h0") = py::none(), py::arg("c0") = py::none(),
        py::arg("cell") = "simple_tanh", py::arg("go_backwards") = false, py::arg("reset_after") = true, PCN_NOGIL,
        "Run a recurrent cell over a whole sequence (Keras 3 layouts).\n"
        "x (N,T,I); kernel (I,G*U); recurrent_kernel (U,G*U); bias (G*U,) or (2,3U) for GRU reset_after;\n"
        "h0/c0 (N,U) or None; cell 'simple_tanh'|'simple_relu'|'lstm'|'gru' (G = 1, 1, 4 [i,f,c,o], 3 [z,r,h]).\n"
        "Returns (outputs (N,T,U) in processing order, h_T (N,U), c_T (N,U) or None, workspace).");
  m.def("rnn_backward", &rnn_backward, py::arg("d_outputs"), py::arg("d_hT"), py::arg("d_cT"), py::arg("x"),
        py::arg("kernel"), py::arg("recurrent_kernel"), py::arg("bias"), py::arg("h0"), py::arg("c0"),
        py::arg("workspace"), py::arg("cell") = "simple_tanh", py::arg("go_backwards") = false,
        py::arg("reset_after") = true, PCN_NOGIL,
        "Backward through time of rnn_forward (new tensors, no accumulation). d_outputs (N,T,U) or None,\n"
        "d_hT/d_cT (N,U) or None. Returns (dx, dkernel, drecurrent_kernel, dbias or None, dh0 or None,\n"
        "dc0 or None); dh0/dc0 are returned when h0/c0 were given.");
}
}  // namespace pcn
