// bind/optim.cpp — Python bindings of the optim op family (all in place).
#include "../ops/optim.h"
#include "bind.h"

namespace pcn {
void bind_optim(py::module_& m) {
  m.def("sgd_update_", &sgd_update_, py::arg("param"), py::arg("grad"), py::arg("velocity") = py::none(),
        py::arg("lr") = 0.01f, py::arg("momentum") = 0.0f, py::arg("nesterov") = false, PCN_NOGIL,
        "Keras 3 SGD step in place (velocity needed when momentum != 0).");
  m.def("adam_update_", &adam_update_, py::arg("param"), py::arg("grad"), py::arg("m"), py::arg("v"),
        py::arg("lr") = 0.001f, py::arg("beta1") = 0.9f, py::arg("beta2") = 0.999f, py::arg("eps") = 1e-7f,
        py::arg("step") = 1, py::arg("vhat") = py::none(), PCN_NOGIL,
        "Keras 3 Adam step in place; step is the 1-based update count (iterations + 1); vhat given = amsgrad.");
  m.def("rmsprop_update_", &rmsprop_update_, py::arg("param"), py::arg("grad"), py::arg("velocity"),
        py::arg("average_grad") = py::none(), py::arg("momentum_buf") = py::none(), py::arg("lr") = 0.001f,
        py::arg("rho") = 0.9f, py::arg("momentum") = 0.0f, py::arg("eps") = 1e-7f, py::arg("centered") = false,
        PCN_NOGIL, "Keras 3 RMSprop step in place (eps inside the sqrt).");
  m.def("adagrad_update_", &adagrad_update_, py::arg("param"), py::arg("grad"), py::arg("accumulator"),
        py::arg("lr") = 0.001f, py::arg("eps") = 1e-7f, PCN_NOGIL,
        "Keras 3 Adagrad step in place: acc += g^2; w -= lr*g/sqrt(acc+eps).");
}
}  // namespace pcn
