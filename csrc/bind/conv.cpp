// bind/conv.cpp — Python bindings of the conv op family.
#include "bind.h"

namespace pcn {
void bind_conv(py::module_& m) { (void)m; }
}  // namespace pcn
