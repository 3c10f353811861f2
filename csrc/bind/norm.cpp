// bind/norm.cpp — Python bindings of the norm op family.
#include "bind.h"

namespace pcn {
void bind_norm(py::module_& m) { (void)m; }
}  // namespace pcn
