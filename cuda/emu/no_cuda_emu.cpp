// EMULATION BUILD: the CUDA kernels of cuda/{pool2d,norm,rnn}.cu, run on the
// host, installed in the CPU slots so the CPU test suites exercise them.
#include "cuda_api.h"
#include "dispatch.h"
#include "emu/register_families.h"  // cuda/register_families.h, copied by run.sh
#include "ops/norm.h"
#include "ops/pool2d.h"
#include "ops/rnn.h"

namespace pcn {
bool cuda_compiled_in() { return false; }
std::string cuda_build_arch() { return ""; }
std::vector<CudaDeviceInfo> cuda_devices() { return {}; }
int cuda_runtime_version() { return 0; }
int cuda_driver_version() { return 0; }
void cuda_synchronize() {}
template <class T>
static void use(T& t) {
  if (!t.cuda) throw RuntimeError(std::string("emu: no cuda kernel registered for ") + t.name);
  t.cpu = t.cuda;
}
void register_cuda_kernels() {
  register_pool2d_cuda();
  register_norm_cuda();
  register_rnn_cuda();
  use(pool2d_forward_table); use(pool2d_backward_table);
  use(global_pool_forward_table); use(global_pool_backward_table);
  use(batch_norm_forward_train_table); use(batch_norm_forward_infer_table);
  use(batch_norm_backward_table); use(batch_norm_update_running_table);
  use(lrn_forward_table); use(lrn_backward_table);
  use(rnn_forward_table); use(rnn_backward_table);
}
}  // namespace pcn
