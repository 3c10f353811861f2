// dispatch.h — one table per op: {cpu, cuda} function pointers, one level deep.
//
// Each op family declares its tables in csrc/ops/<family>.h, defines them in
// csrc/ops/<family>.cpp with the CPU kernel filled in, and the CUDA backend
// fills the .cuda slots in register_cuda_kernels() (cuda/register.cu) at
// module import. Kernels take raw pointers and a Params struct, never Tensors.
#pragma once
#include <string>

#include "common.h"
#include "tensor.h"

namespace pcn {

template <class Fn>
struct OpTable {
  const char* name;
  Fn cpu = nullptr;
  Fn cuda = nullptr;
  Fn get(const Device& d) const {
    Fn f = d.is_cuda() ? cuda : cpu;
    if (!f) PCN_THROW(RuntimeError, name << ": no kernel for device " << d.str());
    return f;
  }
};

// Set by the CUDA backend; called once from the module init (no static-init
// order games across translation units).
void register_cuda_kernels();
bool cuda_compiled_in();

}  // namespace pcn
