// bind/cuda.cpp — CUDA-only Python entry points (stream, allocator stats).
#include "bind.h"

namespace pcn {
void bind_cuda(py::module_& m) { (void)m; }
}  // namespace pcn
