// bind/cuda.cpp — CUDA-only Python entry points (stream, allocator stats,
// matmul precision). All exist in a CPU-only build too (stats are zero, the
// precision is stored but only the GPU kernels read it).
#include "../common.h"
#include "../cuda_api.h"
#include "bind.h"

namespace pcn {

static MatmulPrecision parse_precision(const std::string& s) {
  if (s == "highest") return MatmulPrecision::Highest;
  if (s == "high") return MatmulPrecision::High;
  if (s == "medium") return MatmulPrecision::Medium;
  throw ValueError("set_matmul_precision: expected 'highest', 'high' or 'medium', got '" + s + "'");
}

void bind_cuda(py::module_& m) {
  m.def("cuda_memory_stats", []() {
    const CudaMemoryStats st = cuda_memory_stats();
    py::dict d;
    d["allocated"] = st.allocated;
    d["cached"] = st.cached;
    d["reserved"] = st.allocated + st.cached;
    d["peak_allocated"] = st.peak_allocated;
    return d;
  }, "Caching allocator bytes: allocated (in use by tensors), cached (freed, kept for reuse), "
     "reserved (both), peak_allocated.");
  m.def("cuda_empty_cache", &cuda_empty_cache, PCN_NOGIL, "Return cached device blocks to the driver.");
  m.def("cuda_stream", [](int device) { return cuda_stream_handle(device); }, py::arg("device") = 0,
        "The backend's stream on `device` as an integer (cudaStream_t); all kernels and copies run on it.");
  m.def("set_matmul_precision", [](const std::string& s) { set_matmul_precision(parse_precision(s)); },
        py::arg("precision"),
        "Float32 matmul on the GPU: 'highest' (fp32 SIMT), 'high' (TF32 tensor cores), "
        "'medium' (BF16 tensor cores); fp32 accumulation in all three.");
  m.def("get_matmul_precision", []() {
    switch (get_matmul_precision()) {
      case MatmulPrecision::High: return std::string("high");
      case MatmulPrecision::Medium: return std::string("medium");
      default: return std::string("highest");
    }
  });
}

}  // namespace pcn
