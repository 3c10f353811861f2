// bind/pool.cpp — Python bindings of the pool op family.
#include "bind.h"

namespace pcn {
void bind_pool(py::module_& m) { (void)m; }
}  // namespace pcn
