// ptx.cuh — every inline-PTX instruction the kernels use, each behind one small
// __device__ function. Kernels never write asm themselves: the host emulation
// (cuda/emu/) supplies its own version of exactly these functions, so a kernel
// that goes through them runs under the emulator unchanged.
//
// Fragment layouts are those of the PTX ISA ("Matrix fragments for mma.m16n8k8"
// / "m16n8k16"); g = lane / 4 ("groupID"), t = lane % 4 ("threadID_in_group"):
//
//   mma_tf32_16x8x8  a[0] (g, t)    a[1] (g+8, t)    a[2] (g, t+4)    a[3] (g+8, t+4)
//                    b[0] (k=t, n=g)  b[1] (k=t+4, n=g)
//   mma_bf16_16x8x16 a[0] (g, 2t..2t+1)  a[1] (g+8, 2t..)  a[2] (g, 2t+8..)  a[3] (g+8, 2t+8..)
//                    b[0] (k=2t..2t+1, n=g)  b[1] (k=2t+8.., n=g)   (lower k in the low half)
//   both, d (fp32):  d[0] (g, 2t)  d[1] (g, 2t+1)  d[2] (g+8, 2t)  d[3] (g+8, 2t+1)
//
// ldmatrix_x{1,2,4}(r, p): matrix i (8x8 of 16-bit elements, 8 rows of 16 bytes)
// has its row j at the address that lane 8*i + j passes; lane L receives in
// r[i] the 32-bit word holding row L/4, elements 2*(L%4) and 2*(L%4)+1 of
// matrix i (the .trans forms deliver the transpose). p must point into shared
// memory, 16-byte aligned.
//
// cp_async_16(dst, src, src_bytes): copy 16 bytes global -> shared without
// going through registers; bytes past src_bytes (0..16) are zero-filled, and
// src is not read at all when src_bytes == 0. Completion is tracked in groups:
// cp_async_commit() closes the group of copies issued since the last commit;
// cp_async_wait<N>() blocks until at most N groups are still in flight (the
// data is then visible to this thread; a __syncthreads() makes it visible to
// the block).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace pcn {
namespace ptx {

__device__ __forceinline__ uint32_t cvt_tf32(float x) {
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
  return r;
}

// d += A(16x8, tf32, row) * B(8x8, tf32, col), fp32 accumulate.
__device__ __forceinline__ void mma_tf32_16x8x8(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// d += A(16x16, bf16, row) * B(16x8, bf16, col), fp32 accumulate.
__device__ __forceinline__ void mma_bf16_16x8x16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void ldmatrix_x1(uint32_t (&r)[1], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x2(uint32_t (&r)[2], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x2_trans(uint32_t (&r)[2], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

__device__ __forceinline__ void cp_async_16(void* dst_smem, const void* src_global, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst_smem)), "l"(src_global),
               "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

}  // namespace ptx
}  // namespace pcn
