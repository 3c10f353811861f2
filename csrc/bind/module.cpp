// bind/module.cpp — the extension module pyconvnet._C: exceptions, build and
// runtime info, threads, SIMD path, and the per-family registrations.
#include <omp.h>

#include "../cuda_api.h"
#include "../dispatch.h"
#include "../isa.h"
#include "../cpu/isa/peak_isa.h"
#include <chrono>
#include "../tensor.h"
#include "bind.h"

#ifndef PCN_VERSION
#define PCN_VERSION "0.0.0"
#endif

namespace pcn {

static py::dict build_info() {
  py::dict d;
  d["version"] = PCN_VERSION;
  d["openmp"] = true;
  d["openmp_version"] = int(_OPENMP);
  d["cuda_compiled"] = cuda_compiled_in();
  d["cuda_arch"] = cuda_build_arch();
  d["cuda_runtime"] = cuda_runtime_version();
#if defined(__GNUC__)
  d["compiler"] = std::string("gcc ") + __VERSION__;
#endif
  return d;
}

static py::list device_list() {
  py::list out;
  for (const auto& di : cuda_devices()) {
    py::dict d;
    d["index"] = di.index;
    d["name"] = di.name;
    d["total_memory"] = di.total_bytes;
    d["free_memory"] = di.free_bytes;
    d["compute_capability"] = py::make_tuple(di.major, di.minor);
    d["multiprocessors"] = di.multiprocessors;
    out.append(d);
  }
  return out;
}

}  // namespace pcn

PYBIND11_MODULE(_C, m) {
  using namespace pcn;
  m.doc() = "pyconvnet kernels (C++/OpenMP/SIMD, optional CUDA)";
  // ValueError derives from std::invalid_argument, which pybind11 already
  // maps to ValueError; RuntimeError to RuntimeError.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const pcn::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    }
  });

  m.def("build_info", &build_info, "What this build of the extension contains.");
  m.def("cuda_devices", &device_list, "Visible CUDA devices (empty list without a GPU or driver).");
  m.def("cuda_driver_version", &cuda_driver_version);
  m.def("synchronize", &cuda_synchronize, PCN_NOGIL, "Wait for all queued device work.");
  m.def("set_num_threads", [](int n) {
    if (n < 1) throw ValueError("set_num_threads: n must be >= 1, got " + std::to_string(n));
    omp_set_num_threads(n);
  });
  m.def("get_num_threads", []() { return omp_get_max_threads(); });
  m.def("num_procs", []() { return omp_get_num_procs(); });
  m.def("simd_level", []() { return std::string(isa_name(active_isa())); },
        "SIMD path the CPU kernels use now: 'avx512', 'avx2' or 'base'.");
  m.def("best_simd_level", []() { return std::string(isa_name(best_isa())); });
  m.def("force_simd_level", [](const std::string& s) {
    if (s == "avx512") force_isa(Isa::Avx512);
    else if (s == "avx2") force_isa(Isa::Avx2);
    else if (s == "base") force_isa(Isa::Base);
    else throw ValueError("force_simd_level: expected 'avx512', 'avx2' or 'base', got '" + s + "'");
    return std::string(isa_name(active_isa()));
  }, "Tests: run the kernels on a given SIMD path (clamped to what the CPU has).");
  m.def("fma_peak_gflops", [](double seconds) {
    // Calibrate once, then time enough iterations to fill `seconds`.
    float sink = 0;
    int64_t iters = 1 << 16;
    for (;;) {
      auto t0 = std::chrono::steady_clock::now();
      double flops = PCN_ISA_CALL(fma_loop, iters, &sink);
      double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (dt >= seconds || iters > (int64_t(1) << 40)) return flops / dt / 1e9;
      iters *= dt > 1e-3 ? std::max<int64_t>(2, int64_t(seconds / dt) + 1) : 16;
    }
  }, py::arg("seconds") = 0.3, PCN_NOGIL,
        "GFLOP/s of an FMA loop on all OpenMP threads with the active SIMD path (the machine's fp32 peak).");
  m.def("set_poison_allocations", &set_poison_allocations,
        "Tests: fill every new tensor with NaN so unwritten outputs are caught.");

  bind_tensor(m);
  bind_gemm(m);
  bind_conv(m);
  bind_pool(m);
  bind_rnn(m);
  bind_elementwise(m);
  bind_norm(m);
  bind_loss(m);
  bind_optim(m);
  bind_cuda(m);
  register_cuda_kernels();
}
