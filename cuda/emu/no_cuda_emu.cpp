// EMULATION BUILD: the CUDA kernels of the families listed in emu/families.h
// (written by run.sh: PCN_EMU_<FAMILY> defines), run on the host, installed in
// the CPU slots so the CPU test suites exercise them. Every other entry point
// is csrc/no_cuda.cpp's (CPU-only build).
#include "cuda_api.h"
#include "dispatch.h"
#define PCN_EMU_DEFINE_SWITCH
#include "emu/emu.h"
#include "emu/families.h"
#include "emu/register_families.h"  // cuda/register.cuh, copied by run.sh
#ifdef PCN_EMU_GEMM
#include "emu/ptx_selftest.h"  // ctypes entry points testing ptx_emu.h (test_emu_gemm.py)
#endif
#include "ops/conv2d.h"
#include "ops/elementwise.h"
#include "ops/gemm.h"
#include "ops/loss.h"
#include "ops/norm.h"
#include "ops/optim.h"
#include "ops/pool2d.h"
#include "ops/rnn.h"

#include <cstdlib>
#include <vector>

namespace pcn {
bool cuda_compiled_in() { return false; }
std::string cuda_build_arch() { return ""; }
std::vector<CudaDeviceInfo> cuda_devices() { return {}; }
int cuda_runtime_version() { return 0; }
int cuda_driver_version() { return 0; }
void cuda_synchronize() {}
uintptr_t cuda_stream_handle(int) { return 0; }
void cuda_stream_synchronize(int) {}
CudaMemoryStats cuda_memory_stats() { return {}; }
void cuda_empty_cache() {}
static MatmulPrecision g_matmul_precision = MatmulPrecision::Highest;
void set_matmul_precision(MatmulPrecision p) { g_matmul_precision = p; }
MatmulPrecision get_matmul_precision() { return g_matmul_precision; }

// PCN_EMU_COUNT=1: print the number of emulated kernel launches at exit (proof
// that the tests ran the CUDA kernels).
namespace {
struct LaunchReport {
  ~LaunchReport() {
    if (std::getenv("PCN_EMU_COUNT")) std::fprintf(stderr, "\nemu: %lld CUDA kernel launches emulated\n", emu::launches);
    if (const char* path = std::getenv("PCN_EMU_COVERAGE")) {
      if (FILE* f = std::fopen(path, "a")) {
        for (const auto& kv : emu::coverage())
          std::fprintf(f, "%lld\t%s\t%s\n", kv.second, kv.first.first.c_str(), kv.first.second.c_str());
        std::fclose(f);
      }
    }
  }
} g_launch_report;
}  // namespace

#ifdef PCN_EMU_LOSS
// The device label check of the class losses (ops/loss.cpp LabelCheck: on a
// GPU the kernel reports the first out-of-range sparse label through
// p.bad_label) cannot be reached from Python here, where every tensor is a
// host tensor and the front checks labels itself. This entry point calls the
// CUDA kernels directly (ctypes, from cuda/emu/test_emu_paths.py): x (N,C),
// labels (N) int64 or int32 (i32 != 0), from_probs; writes loss (N), probs
// (N,C) (logits only), dx (N,C) with dloss = 1, and returns the reported row
// (N when none: kernels must not touch labels they reject).
extern "C" __attribute__((visibility("default"))) long long pcn_emu_class_loss_label_check(
    long long N, long long C, const float* x, const void* labels, int i32, int from_probs, float* loss,
    float* probs, float* dx, long long* bad_bwd) {
  ClassLossParams p;
  p.N = N;
  p.C = C;
  p.labels = i32 ? LabelKind::SparseI32 : LabelKind::SparseI64;
  p.from_probs = from_probs != 0;
  int64_t bad = N;
  p.bad_label = &bad;
  class_loss_forward_table.cuda(p, x, labels, loss, from_probs ? nullptr : probs);
  std::vector<float> ones(size_t(N), 1.f);
  int64_t bad2 = N;
  p.bad_label = &bad2;
  class_loss_backward_table.cuda(p, from_probs ? x : probs, labels, ones.data(), dx);
  *bad_bwd = bad2;
  return bad;
}
#endif

template <class T>
static void use(T& t) {
  if (!t.cuda) throw RuntimeError(std::string("emu: no cuda kernel registered for ") + t.name);
  t.cpu = t.cuda;
}
void register_cuda_kernels() {
  if (std::getenv("PCN_EMU_OFF")) return;  // the plain CPU kernels (for cuda/emu/compare.py)
#ifdef PCN_EMU_GEMM
  register_gemm_cuda();
  use(gemm_table);
#endif
#ifdef PCN_EMU_POOL2D
  register_pool2d_cuda();
  use(pool2d_forward_table); use(pool2d_backward_table);
  use(global_pool_forward_table); use(global_pool_backward_table);
#endif
#ifdef PCN_EMU_NORM
  register_norm_cuda();
  use(batch_norm_forward_train_table); use(batch_norm_forward_infer_table);
  use(batch_norm_backward_table); use(batch_norm_update_running_table);
  use(lrn_forward_table); use(lrn_backward_table);
#endif
#ifdef PCN_EMU_RNN
  register_rnn_cuda();
  use(rnn_forward_table); use(rnn_backward_table);
#endif
#ifdef PCN_EMU_CONV2D
  register_conv2d_cuda();
  use(conv2d_forward_table); use(conv2d_backward_input_table);
  use(conv2d_backward_filter_table); use(conv2d_backward_bias_table);
#endif
#ifdef PCN_EMU_ELEMENTWISE
  register_elementwise_cuda();
  use(pointwise_table); use(axpby_table); use(act_forward_table); use(act_backward_table);
  use(binary_table); use(reduce_table); use(softmax_forward_table); use(softmax_backward_table);
  use(copy_table); use(cast_table); use(dropout_forward_table); use(dropout_backward_table);
  use(index_table);
#endif
#ifdef PCN_EMU_LOSS
  register_loss_cuda();
  use(class_loss_forward_table); use(class_loss_backward_table);
  use(reg_loss_forward_table); use(reg_loss_backward_table);
#endif
#ifdef PCN_EMU_OPTIM
  register_optim_cuda();
  use(optim_table);
#endif
}
}  // namespace pcn
