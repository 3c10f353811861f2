// bind/loss.cpp — Python bindings of the loss op family.
#include "../ops/loss.h"
#include "bind.h"

namespace pcn {
void bind_loss(py::module_& m) {
  m.def("set_defer_label_checks", &set_defer_label_checks, py::arg("on"),
        "Class losses on device labels: queue the label range check instead of reading it back at once "
        "(a device sync); flush_label_checks() raises the first bad label. Per thread.");
  m.def("flush_label_checks", &flush_label_checks, py::arg("discard") = false, PCN_NOGIL,
        "Read the queued label range checks and raise the first bad label's ValueError (discard=True: drop them).");
  m.def("softmax_cross_entropy_forward", &softmax_cross_entropy_forward, py::arg("logits"), py::arg("labels"),
        PCN_NOGIL,
        "Fused, stable softmax cross-entropy. logits (N,C); labels int32/int64 (N,) or float (N,C). "
        "Returns (loss (N,), probs (N,C)).");
  m.def("softmax_cross_entropy_backward", &softmax_cross_entropy_backward, py::arg("probs"), py::arg("labels"),
        py::arg("dloss"), PCN_NOGIL, "dlogits (N,C) = dloss[:,None] * (probs*sum(t) - t).");
  m.def("crossentropy_probs_forward", &crossentropy_probs_forward, py::arg("probs"), py::arg("labels"), PCN_NOGIL,
        "Keras crossentropy from probabilities: -sum t*log(clip(p/sum(p), 1e-7, 1-1e-7)) per row (N,).");
  m.def("crossentropy_probs_backward", &crossentropy_probs_backward, py::arg("probs"), py::arg("labels"),
        py::arg("dloss"), PCN_NOGIL, "Gradient of crossentropy_probs_forward w.r.t. probs.");
  m.def("binary_crossentropy_forward", &binary_crossentropy_forward, py::arg("pred"), py::arg("target"),
        py::arg("from_logits") = false, PCN_NOGIL, "Keras binary crossentropy, mean over the last axis.");
  m.def("binary_crossentropy_backward", &binary_crossentropy_backward, py::arg("pred"), py::arg("target"),
        py::arg("dloss"), py::arg("from_logits") = false, PCN_NOGIL, "Gradient w.r.t. pred.");
  m.def("mse_forward", &mse_forward, py::arg("pred"), py::arg("target"), PCN_NOGIL, "mean((p-t)^2, axis=-1)");
  m.def("mse_backward", &mse_backward, py::arg("pred"), py::arg("target"), py::arg("dloss"), PCN_NOGIL);
  m.def("mae_forward", &mae_forward, py::arg("pred"), py::arg("target"), PCN_NOGIL, "mean(|p-t|, axis=-1)");
  m.def("mae_backward", &mae_backward, py::arg("pred"), py::arg("target"), py::arg("dloss"), PCN_NOGIL);
  m.def("huber_forward", &huber_forward, py::arg("pred"), py::arg("target"), py::arg("delta") = 1.0f, PCN_NOGIL,
        "Keras Huber, mean over the last axis.");
  m.def("huber_backward", &huber_backward, py::arg("pred"), py::arg("target"), py::arg("dloss"),
        py::arg("delta") = 1.0f, PCN_NOGIL);
}
}  // namespace pcn
