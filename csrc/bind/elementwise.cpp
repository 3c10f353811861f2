// bind/elementwise.cpp — Python bindings of the elementwise op family.
#include "bind.h"

namespace pcn {
void bind_elementwise(py::module_& m) { (void)m; }
}  // namespace pcn
