// Host emulation of the CUDA subset used by cuda/{gemm,pool2d,norm,rnn,conv2d,
// elementwise,loss,optim}.cu, to run those kernels on the CPU under the CPU
// test suites (see run.sh), or, with PCN_EMU_DEVICE, the whole CUDA backend
// against an emulated device (cuda_runtime_emu.h, run_device.sh). The inline
// PTX of cuda/ptx.cuh (mma, ldmatrix, cp.async, cvt.tf32) is ptx_emu.h.
//
// One CUDA block at a time, on the calling OS thread; the block's threads are
// cooperative fibers (own stacks, a 20-instruction x86-64 context switch),
// run in thread order (ascending in even blocks, descending in odd ones),
// each until it finishes or waits at a barrier:
//   __syncthreads()      waits until every thread of the block that has not
//                        exited is there (exited threads count as arrived, as
//                        on sm_70+ hardware)
//   __shfl_*_sync        each lane publishes its value, waits for the other
//                        31 lanes of its warp (all must be alive and there:
//                        full mask), reads its source lane, waits again
//   __shared__           static storage (one block at a time), poisoned with
//                        0xff bytes (NaN) at the start of every block;
//                        extern __shared__ (dynamic): one buffer per launch of
//                        the <<<>>> size, poisoned likewise; > 48 KiB needs
//                        cudaFuncSetAttribute(MaxDynamicSharedMemorySize)
//   atomics              plain read-modify-write (one OS thread)
//   reinterpret_cast     checks the alignment of the pointee type (float4: 16 B)
// A block whose live threads wait at different barriers (a __syncthreads or a
// shuffle in divergent code, a shuffle with exited lanes) cannot progress:
// the emulator prints the state and aborts instead of hanging.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <type_traits>
#include <sys/mman.h>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#endif

#include "../common.h"
#include "../tensor.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

struct __attribute__((aligned(16), may_alias)) float4 { float x, y, z, w; };
struct __attribute__((aligned(8), may_alias)) float2 { float x, y; };
struct __attribute__((aligned(16), may_alias)) uint4 { unsigned x, y, z, w; };
struct __attribute__((aligned(8), may_alias)) uint2 { unsigned x, y; };
inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
inline float2 make_float2(float a, float b) { return {a, b}; }
inline uint4 make_uint4(unsigned a, unsigned b, unsigned c, unsigned d) { return {a, b, c, d}; }
template <class T>
inline T __ldg(const T* p) { return *p; }

namespace emu {
// reinterpret_cast (transform.py rewrites every one) that aborts when a pointer
// is cast to a type its address is not aligned for.
template <class T, class U>
inline T aligned_cast(U p) {
  if constexpr (std::is_pointer<T>::value && std::is_pointer<U>::value) {
    using E = typename std::remove_cv<typename std::remove_pointer<T>::type>::type;
    if constexpr (!std::is_void<E>::value) {
      if (reinterpret_cast<uintptr_t>(p) % alignof(E)) {
        std::fprintf(stderr, "emu: misaligned %zu-byte access at %p (faults on the GPU)\n", alignof(E),
                     static_cast<const void*>(p));
        std::abort();
      }
    }
  }
  return reinterpret_cast<T>(p);
}
}  // namespace emu
// Round-to-nearest single operations: the host build targets baseline x86-64
// (no FMA instructions), so a*b+c is never contracted here either.
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
namespace emu {
inline thread_local int tid_linear = 0;  // threadIdx as a linear index in the block
}

inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}

// ---- fibers (one per CUDA thread of the running block)
namespace emu {
extern "C" void pcn_emu_switch(void** save_sp, void* new_sp);
enum FiberState : int { kRun = 0, kBlockBar, kWarpBar, kDone };
struct Fiber {
  void* sp = nullptr;
  int state = kDone;
};
constexpr size_t kStack = size_t(256) << 10;  // per fiber, with a guard page below
inline Fiber fibers[1024];
inline char* stacks[1024];
inline void* sched_sp = nullptr;
inline int cur = -1, nthreads = 0;
inline void (*body_fn)(void*) = nullptr;
inline void* body_obj = nullptr;
inline unsigned char shfl_slot[1024][8];

// Shared-memory poisoning (transform.py adds a shared_decl after each
// __shared__ declaration): the first thread of a block to pass it fills the
// array with 0xff bytes.
inline unsigned long long block_serial = 0;
inline std::map<const void*, unsigned long long>& shared_seen() {
  static auto* m = new std::map<const void*, unsigned long long>();
  return *m;
}
// Every __shared__ array seen so far (address -> bytes) and the launch's
// dynamic shared memory (extern __shared__): in_shared() tells whether
// [p, p+n) lies inside one of them (checked by the ldmatrix/cp.async emulation).
inline std::map<uintptr_t, size_t>& shared_regions() {
  static auto* m = new std::map<uintptr_t, size_t>();
  return *m;
}
template <class T>
inline void shared_decl(T& arr, size_t n) {
  unsigned long long& s = shared_seen()[static_cast<const void*>(&arr)];
  if (s != block_serial) {
    s = block_serial;
    std::memset(static_cast<void*>(&arr), 0xff, n);
    shared_regions()[reinterpret_cast<uintptr_t>(&arr)] = n;
  }
}
// Dynamic shared memory of the running launch (4th-from-last <<<>>> argument):
// 1024-byte aligned, poisoned like the static arrays at the start of each block.
inline unsigned char* dyn_smem_base = nullptr;
inline size_t dyn_smem_bytes = 0, dyn_smem_cap = 0;
inline unsigned char* dyn_smem() { return dyn_smem_base; }
inline bool in_shared(const void* p, size_t n) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  const uintptr_t d = reinterpret_cast<uintptr_t>(dyn_smem_base);
  if (dyn_smem_bytes && a >= d && a + n <= d + dyn_smem_bytes) return true;
  auto& m = shared_regions();
  auto it = m.upper_bound(a);
  if (it == m.begin()) return false;
  --it;
  return a + n <= it->first + it->second;
}
// Global-memory operand check of the emulated instructions: the device build
// (PCN_EMU_DEVICE) installs one that requires [p, p+n) inside the device arena.
inline bool (*global_ok)(const void*, size_t) = nullptr;
inline void check_global(const char* op, const void* p, size_t n) {
  if (global_ok && !global_ok(p, n)) {
    std::fprintf(stderr, "emu: %s %p (%zu bytes) is not device memory\n", op, p, n);
    std::abort();
  }
}
// cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, n):
// per kernel; a launch asking for more than 48 KiB of dynamic shared memory
// without it fails on the GPU (and aborts here). transform.py sets next_kernel
// before each launch that passes a dynamic shared-memory size.
inline std::map<const void*, int>& max_dyn_smem() {
  static auto* m = new std::map<const void*, int>();
  return *m;
}
inline const void* next_kernel = nullptr;
template <class K>
inline const void* fn_addr(K* k) { return reinterpret_cast<const void*>(k); }
// Called at the start of every block (ptx_emu.h: drops the cp.async queues).
inline void (*block_start_hook)() = nullptr;

inline void yield_to_scheduler(int state) {
  fibers[cur].state = state;
  pcn_emu_switch(&fibers[cur].sp, sched_sp);
}
inline int lanes_in_warp(int w) { return nthreads - 32 * w < 32 ? nthreads - 32 * w : 32; }
}  // namespace emu

inline void __syncthreads() {
  emu::yield_to_scheduler(emu::kBlockBar);
}

namespace emu {
template <class T>
inline T shfl_from(T v, int src_lane) {
  static_assert(sizeof(T) <= 8, "emu: shuffle of a type wider than 8 bytes");
  const int t = tid_linear, base = t - t % 32;
  std::memcpy(shfl_slot[t], &v, sizeof(T));
  yield_to_scheduler(kWarpBar);
  if (src_lane < 0 || src_lane >= lanes_in_warp(t / 32)) {
    std::fprintf(stderr, "emu: shuffle reads lane %d of a warp with %d lanes (undefined on the GPU)\n", src_lane,
                 lanes_in_warp(t / 32));
    std::abort();
  }
  T r;
  std::memcpy(&r, shfl_slot[base + src_lane], sizeof(T));
  yield_to_scheduler(kWarpBar);  // nobody overwrites its slot before every lane has read
  return r;
}
}  // namespace emu
template <class T>
inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  if (mask != 0xffffffffu) { std::fprintf(stderr, "emu: partial shuffle mask\n"); std::abort(); }
  const int lane = emu::tid_linear % 32;
  return emu::shfl_from(v, (lane / width) * width + ((src % width) + width) % width);
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T v, int lanemask, int width = 32) {
  if (mask != 0xffffffffu) { std::fprintf(stderr, "emu: partial shuffle mask\n"); std::abort(); }
  const int lane = emu::tid_linear % 32;
  int src = lane ^ lanemask;
  if (src / width != lane / width) src = lane;  // outside the segment: own value (CUDA)
  return emu::shfl_from(v, src);
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T v, unsigned d, int width = 32) {
  if (mask != 0xffffffffu) { std::fprintf(stderr, "emu: partial shuffle mask\n"); std::abort(); }
  const int lane = emu::tid_linear % 32;
  int src = lane + int(d);
  if (src / width != lane / width) src = lane;
  if (src >= emu::lanes_in_warp(emu::tid_linear / 32)) src = lane;
  return emu::shfl_from(v, src);
}

// ---- atomics
template <class T>
inline T atomicMin(T* p, T v) {
  const T old = *p;
  if (v < old) *p = v;
  return old;
}
template <class T>
inline T atomicMax(T* p, T v) {
  const T old = *p;
  if (v > old) *p = v;
  return old;
}
template <class T>
inline T atomicAdd(T* p, T v) {
  const T old = *p;
  *p = old + v;
  return old;
}

#ifdef PCN_EMU_DEVICE
#include "cuda_runtime_emu.h"  // the emulated device: runtime API, arena, streams (run_device.sh)
#else
// Kernels-only emulation (run.sh): every pointer is a host pointer.
typedef void* cudaStream_t;
enum cudaError_t { cudaSuccess = 0 };
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16 };
inline cudaError_t cudaGetDevice(int* d) { *d = 0; return cudaSuccess; }
// SM count the split heuristics see: PCN_EMU_SMS, default 132 (H100 SXM).
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr, int) {
  const char* e = std::getenv("PCN_EMU_SMS");
  *v = e ? std::atoi(e) : 132;
  return cudaSuccess;
}
enum cudaMemcpyKind { cudaMemcpyDeviceToDevice = 3 };
inline cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t) { std::memset(p, v, n); return cudaSuccess; }
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, cudaStream_t) {
  std::memcpy(d, s, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpy2DAsync(void* d, size_t dp, const void* s, size_t sp, size_t w, size_t h, cudaMemcpyKind,
                                     cudaStream_t) {
  for (size_t r = 0; r < h; ++r) std::memcpy((char*)d + r * dp, (const char*)s + r * sp, w);
  return cudaSuccess;
}

#define PCN_CUDA_CHECK(call) (void)(call)
#define PCN_CUDA_LAUNCH_CHECK() (void)0
namespace emu {
inline void launch_open() {}
inline void launch_close() {}
template <class S>
inline void launch_stream_check(S) {}
}  // namespace emu
#endif
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
template <class K>
inline cudaError_t cudaFuncSetAttribute(K* k, cudaFuncAttribute attr, int v) {
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) emu::max_dyn_smem()[emu::fn_addr(k)] = v;
  return cudaSuccess;
}

namespace emu {
// x86-64 SysV: save the callee-saved registers, the x87 control word and
// MXCSR on the current stack, store its pointer in *save_sp, switch to new_sp
// and restore the same from there. Defined once, in no_cuda_emu.cpp.
#ifdef PCN_EMU_DEFINE_SWITCH
asm(R"(
  .text
  .globl pcn_emu_switch
  .hidden pcn_emu_switch
  .type pcn_emu_switch,@function
pcn_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $16, %rsp
  stmxcsr 8(%rsp)
  fnstcw (%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  fldcw (%rsp)
  ldmxcsr 8(%rsp)
  addq $16, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size pcn_emu_switch, .-pcn_emu_switch
)");
#endif

inline void set_thread(int t) {
  cur = t;
  tid_linear = t;
  threadIdx = dim3(t % blockDim.x, (t / blockDim.x) % blockDim.y, t / (blockDim.x * blockDim.y));
}

inline void fiber_main() {
  try {
    body_fn(body_obj);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "emu: exception in a kernel thread: %s\n", e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "emu: exception in a kernel thread\n");
    std::abort();
  }
  fibers[cur].state = kDone;
  void* dummy;
  pcn_emu_switch(&dummy, sched_sp);
  std::abort();  // never resumed
}

// A fresh stack for fiber t that "returns" into fiber_main.
inline void* fresh_stack(int t) {
  if (!stacks[t]) {
    void* m = mmap(nullptr, kStack + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) { std::fprintf(stderr, "emu: out of memory for fiber stacks\n"); std::abort(); }
    mprotect(m, 4096, PROT_NONE);  // guard page: a stack overflow faults
    stacks[t] = static_cast<char*>(m);
  }
#ifdef __SANITIZE_ADDRESS__
  // Frames of the fiber that last ran on this stack left their redzones poisoned.
  __asan_unpoison_memory_region(stacks[t] + 4096, kStack);
#endif
  uintptr_t top = reinterpret_cast<uintptr_t>(stacks[t] + 4096 + kStack) & ~uintptr_t(15);
  uint64_t* sp = reinterpret_cast<uint64_t*>(top);
  *--sp = 0;                                             // fiber_main's (never used) return address
  *--sp = reinterpret_cast<uint64_t>(&fiber_main);        // popped by ret
  for (int i = 0; i < 6; ++i) *--sp = 0;                  // rbp rbx r12 r13 r14 r15
  sp -= 2;
  uint32_t mx;
  uint16_t cw;
  asm volatile("stmxcsr %0" : "=m"(mx));
  asm volatile("fnstcw %0" : "=m"(cw));
  std::memcpy(reinterpret_cast<char*>(sp) + 8, &mx, 4);
  std::memcpy(reinterpret_cast<char*>(sp), &cw, 2);
  return sp;
}

[[noreturn]] inline void stuck() {
  std::fprintf(stderr, "emu: block (%u,%u,%u) of a (%u,%u,%u) x (%u,%u,%u) launch cannot progress:\n", blockIdx.x,
               blockIdx.y, blockIdx.z, gridDim.x, gridDim.y, gridDim.z, blockDim.x, blockDim.y, blockDim.z);
  const char* names[] = {"running", "at __syncthreads", "at a warp shuffle", "exited"};
  for (int st = 1; st < 4; ++st) {
    std::fprintf(stderr, "  %s:", names[st]);
    int shown = 0;
    for (int t = 0; t < nthreads; ++t)
      if (fibers[t].state == st && shown++ < 24) std::fprintf(stderr, " %d", t);
    std::fprintf(stderr, shown > 24 ? " ... (%d)\n" : " (%d)\n", shown);
  }
  std::fprintf(stderr, "  (a barrier or shuffle in divergent code)\n");
  std::abort();
}

inline void run_block() {
  ++block_serial;
  if (dyn_smem_bytes) std::memset(dyn_smem_base, 0xff, dyn_smem_bytes);
  if (block_start_hook) block_start_hook();
  for (int t = 0; t < nthreads; ++t) {
    fibers[t].sp = fresh_stack(t);
    fibers[t].state = kRun;
  }
  // Thread order between barriers: ascending in even blocks, descending in odd
  // ones (PCN_EMU_ORDER=forward|reverse fixes it), so a missing barrier shows
  // whichever thread the unsynchronized access expects to run first.
  static const char* order_env = std::getenv("PCN_EMU_ORDER");
  const bool reverse = order_env ? order_env[0] == 'r' : (block_serial & 1) != 0;
  for (;;) {
    for (int i = 0; i < nthreads; ++i) {
      const int t = reverse ? nthreads - 1 - i : i;
      if (fibers[t].state == kRun) {
        set_thread(t);
        pcn_emu_switch(&sched_sp, fibers[t].sp);
      }
    }
    // Nobody runs now: release a complete warp barrier, else a complete block barrier.
    int done = 0, at_bar = 0;
    bool released = false;
    for (int w = 0; 32 * w < nthreads; ++w) {
      const int n = lanes_in_warp(w);
      int at_warp = 0;
      for (int l = 0; l < n; ++l) {
        const int st = fibers[32 * w + l].state;
        at_warp += st == kWarpBar;
        done += st == kDone;
        at_bar += st == kBlockBar;
      }
      if (at_warp == n) {
        for (int l = 0; l < n; ++l) fibers[32 * w + l].state = kRun;
        released = true;
      }
    }
    if (done == nthreads) return;
    if (released) continue;
    if (at_bar + done == nthreads) {
      for (int t = 0; t < nthreads; ++t)
        if (fibers[t].state == kBlockBar) fibers[t].state = kRun;
      continue;
    }
    stuck();
  }
}

inline long long launches = 0;
inline std::mutex launch_mutex;
inline thread_local bool in_kernel = false;  // this OS thread is running a grid
// Launch counts per site and enclosing function (template arguments included),
// written by no_cuda_emu.cpp at exit when PCN_EMU_COVERAGE names a file.
inline std::map<std::pair<std::string, std::string>, long long>& coverage() {
  static auto* m = new std::map<std::pair<std::string, std::string>, long long>();  // never destroyed
  return *m;
}  // one launch at a time (the fronts release the GIL)
constexpr size_t kDefaultDynSmem = 48 << 10, kMaxDynSmem = 227 << 10;  // sm_90 opt-in limit per block

template <class F, class G, class B, class... R>
void launch(const char* site, const char* where, F f, G g, B b, R... rest) {
  size_t dyn = 0;
  if constexpr (sizeof...(R) >= 1) dyn = size_t(std::get<0>(std::make_tuple(rest...)));
  const void* kern = next_kernel;
  next_kernel = nullptr;
  if (dyn > kDefaultDynSmem) {
    const auto it = max_dyn_smem().find(kern);
    const size_t allowed = it == max_dyn_smem().end() ? kDefaultDynSmem : size_t(it->second);
    if (dyn > kMaxDynSmem || dyn > allowed) {
      std::fprintf(stderr,
                   "emu: %s asks for %zu bytes of dynamic shared memory; the kernel allows %zu "
                   "(cudaFuncSetAttribute MaxDynamicSharedMemorySize; at most %zu on sm_90)\n",
                   site, dyn, allowed, kMaxDynSmem);
      std::abort();
    }
  }
  if constexpr (sizeof...(R) >= 2) launch_stream_check(std::get<1>(std::make_tuple(rest...)));
  else launch_stream_check(0);  // no stream argument: the legacy default stream
  const dim3 grid(g), block(b);
  const long long nt = (long long)block.x * block.y * block.z;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || nt == 0 || nt > 1024 || grid.y > 65535 || grid.z > 65535 ||
      block.z > 64) {
    std::fprintf(stderr, "emu: bad launch config grid (%u,%u,%u) block (%u,%u,%u)\n", grid.x, grid.y, grid.z, block.x,
                 block.y, block.z);
    std::abort();
  }
  // (per OS thread: the fibers of a kernel run on the thread that launched it,
  // while another host thread may be launching concurrently and wait below)
  if (in_kernel) { std::fprintf(stderr, "emu: kernel launch from inside a kernel\n"); std::abort(); }
  std::lock_guard<std::mutex> lock(launch_mutex);
  in_kernel = true;
  ++launches;
  ++coverage()[{site, where}];
  const dim3 saved_grid = gridDim, saved_block = blockDim;
  gridDim = grid;
  blockDim = block;
  nthreads = int(nt);
  if (dyn > dyn_smem_cap) {
    std::free(dyn_smem_base);
    dyn_smem_base = static_cast<unsigned char*>(std::aligned_alloc(1024, (dyn + 1023) & ~size_t(1023)));
    dyn_smem_cap = dyn;
  }
  dyn_smem_bytes = dyn;
  launch_open();
  body_fn = [](void* o) { (*static_cast<F*>(o))(); };
  body_obj = &f;
  // Block order: PCN_EMU_BLOCK_ORDER=forward (default) | reverse | shuffle
  // (a fixed pseudo-random permutation per launch): a kernel whose result
  // depends on the order its blocks run in (one block reading what another
  // writes without a grid-wide sync, float atomics in a "deterministic" path)
  // gives different results under the three.
  static const int order = [] {
    const char* e = std::getenv("PCN_EMU_BLOCK_ORDER");
    return !e ? 0 : e[0] == 'r' ? 1 : e[0] == 's' ? 2 : 0;
  }();
  const unsigned long long nb = (unsigned long long)grid.x * grid.y * grid.z;
  unsigned long long mult = 1, add = 0;
  if (order == 2 && nb > 1) {  // i -> (mult*i + add) mod nb, mult coprime with nb
    unsigned long long h = 0x9e3779b97f4a7c15ull * (unsigned long long)launches;
    add = h % nb;
    mult = (h >> 17) % nb;
    auto gcd = [](unsigned long long a, unsigned long long b) { while (b) { const auto t = a % b; a = b; b = t; } return a; };
    while (mult == 0 || gcd(mult, nb) != 1) mult = (mult + 1) % nb;
  }
  for (unsigned long long i = 0; i < nb; ++i) {
    const unsigned long long k = order == 1 ? nb - 1 - i : order == 2 ? (unsigned long long)((unsigned __int128)(mult) * i % nb + add) % nb : i;
    blockIdx = dim3(unsigned(k % grid.x), unsigned(k / grid.x % grid.y), unsigned(k / grid.x / grid.y));
    run_block();
  }
  cur = -1;
  in_kernel = false;
  launch_close();
  dyn_smem_bytes = 0;
  gridDim = saved_grid;
  blockDim = saved_block;
}
}  // namespace emu

#ifndef PCN_EMU_DEVICE
namespace pcn {
namespace cuda {
inline cudaStream_t stream() { return nullptr; }
inline cudaStream_t activate(int) { return nullptr; }
inline int device_of(const void*) { return 0; }
class DeviceScratch {
 public:
  explicit DeviceScratch(size_t n) : p_(std::malloc(n ? n : 1)) {
    // poison: NaN floats / junk, so reads of unwritten scratch show up
    std::memset(p_, 0xff, n);
  }
  ~DeviceScratch() { std::free(p_); }
  template <class T>
  T* as() const { return static_cast<T*>(p_); }
 private:
  void* p_;
};
inline unsigned grid_for(int64_t n, int threads) {
  int64_t b = (n + threads - 1) / threads;
  const int64_t cap = int64_t(1) << 20;
  return unsigned(b < cap ? b : cap);
}
}  // namespace cuda
}  // namespace pcn
#endif  // !PCN_EMU_DEVICE
