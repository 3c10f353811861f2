// bind/norm.cpp — Python bindings of the norm op family.
#include "../ops/norm.h"
#include "bind.h"

namespace pcn {
void bind_norm(py::module_& m) {
  m.def("batch_norm_forward_train", &batch_norm_forward_train, py::arg("x"), py::arg("gamma") = py::none(),
        py::arg("beta") = py::none(), py::arg("eps") = 1e-3, PCN_NOGIL,
        "x (..., C) -> (y, mean (C), var (C)): batch statistics over all axes but the last, var biased (Keras 3); "
        "gamma/beta None for scale/center False.");
  m.def("batch_norm_forward_infer", &batch_norm_forward_infer, py::arg("x"), py::arg("gamma"), py::arg("beta"),
        py::arg("mean"), py::arg("var"), py::arg("eps") = 1e-3, PCN_NOGIL,
        "y = (x - mean) * gamma / sqrt(var + eps) + beta with the given statistics (C); gamma/beta may be None.");
  m.def("batch_norm_backward", &batch_norm_backward, py::arg("dy"), py::arg("x"), py::arg("gamma"), py::arg("mean"),
        py::arg("var"), py::arg("eps") = 1e-3, PCN_NOGIL,
        "Training-mode gradients with the batch statistics -> (dx, dgamma (C), dbeta (C)), new tensors.");
  m.def("batch_norm_update_running_", &batch_norm_update_running_, py::arg("running_mean"), py::arg("running_var"),
        py::arg("mean"), py::arg("var"), py::arg("momentum") = 0.99, PCN_NOGIL,
        "In place: r = r*momentum + batch*(1-momentum) for the running mean and variance (C).");
  m.def("lrn_forward", &lrn_forward, py::arg("x"), py::arg("depth_radius") = 5, py::arg("bias") = 1.0,
        py::arg("alpha") = 1.0, py::arg("beta") = 0.5, PCN_NOGIL,
        "tf.nn.local_response_normalization: x (N,H,W,C); y = x / (bias + alpha*sum_{|j-c|<=r} x_j^2)^beta.");
  m.def("lrn_backward", &lrn_backward, py::arg("dy"), py::arg("x"), py::arg("depth_radius") = 5,
        py::arg("bias") = 1.0, py::arg("alpha") = 1.0, py::arg("beta") = 0.5, PCN_NOGIL,
        "Exact gradient of lrn_forward w.r.t. x: dx (N,H,W,C), a new tensor.");
}
}  // namespace pcn
