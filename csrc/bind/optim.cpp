// bind/optim.cpp — Python bindings of the optim op family.
#include "bind.h"

namespace pcn {
void bind_optim(py::module_& m) { (void)m; }
}  // namespace pcn
