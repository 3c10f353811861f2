// bind/loss.cpp — Python bindings of the loss op family.
#include "bind.h"

namespace pcn {
void bind_loss(py::module_& m) { (void)m; }
}  // namespace pcn
