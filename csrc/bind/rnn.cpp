// bind/rnn.cpp — Python bindings of the rnn op family.
#include "bind.h"

namespace pcn {
void bind_rnn(py::module_& m) { (void)m; }
}  // namespace pcn
