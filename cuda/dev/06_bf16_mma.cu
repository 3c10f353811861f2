// 06_bf16_mma.cu — the production BF16 tensor-core kernel (fp32 in, converted to bf16 while
// staged; fp32 accumulate): mma.sync.m16n8k16 (HMMA.16816.F32.BF16), same tiling as 05 with rows
// of 40 halves. H100: 81 TFLOP/s (~11% of cuBLAS bf16).
#include "../gemm_kernels.cuh"
#include "common.cuh"

const char* kName = "06_bf16_mma";
const float kTol = 1e-2f;

void launch(int M, int N, int K, const float* A, const float* B, float* C, cudaStream_t s) {
  using namespace pcn::gemm_kernels;
  // Row bands of at most 65535 tiles in grid.y, as in cuda/gemm.cu.
  const bool vecA = K % 4 == 0 && (reinterpret_cast<uintptr_t>(A) & 15) == 0;
  const bool vecB = N % 4 == 0 && (reinterpret_cast<uintptr_t>(B) & 15) == 0;
  const int64_t tiles_m = (M + 127) / 128;
  for (int64_t t0 = 0; t0 < tiles_m; t0 += 65535) {
    const dim3 grid{unsigned((N + 127) / 128), unsigned(std::min<int64_t>(65535, tiles_m - t0)), 1};
    sgemm_tc<false, false, true><<<grid, kThreads, 0, s>>>(M, N, K, 1.f, A, K, B, N, 0.f, C, N, vecA, vecB, t0 * 128);
  }
}

#include "main.cuh"
