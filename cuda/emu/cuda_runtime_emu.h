// cuda_runtime_emu.h — an emulated CUDA device for the host: exactly the CUDA
// runtime API that cuda/*.cu uses, for the device build (run_device.sh;
// included by emu.h when PCN_EMU_DEVICE is defined).
//
// One device, "pyconvnet host emulation (not a GPU)", compute capability 9.0,
// PCN_EMU_SMS multiprocessors (default 132), PCN_EMU_MEM bytes of memory
// (default 2 GiB; suffixes K/M/G).
//  - Device memory is one mmap'd arena, PROT_NONE while host code runs: it is
//    opened (read/write) only inside emulated kernel launches and emulated
//    memcpy/memset, so host code that dereferences a device pointer faults; the
//    SIGSEGV handler names the address and its allocation, then hands over to
//    the previous handler (Python's faulthandler prints the Python stack).
//    PCN_EMU_PROTECT=0: the arena stays open.
//  - cudaMalloc: first fit in the arena, 256-byte aligned, new blocks
//    poisoned with 0xff bytes (NaN); beyond the arena: cudaErrorMemoryAllocation.
//    cudaFree of anything but a live allocation: cudaErrorInvalidValue.
//  - Copies check their direction against the pointers (cudaMemcpyHostToDevice
//    with a host destination is an error) and that every device range lies
//    inside ONE live allocation.
//  - Streams run synchronously (work is done when the call returns); launches
//    and copies check that their stream exists.
//  - cudaPointerGetAttributes: cudaMemoryTypeDevice inside a live allocation,
//    cudaMemoryTypeUnregistered otherwise (host memory, freed device memory).
//  - Errors set the thread's last error (cudaGetLastError returns and clears it)
//    and are printed to stderr when PCN_EMU_VERBOSE is set.
//  - Counters of every transfer (PCN_EMU_COUNT=1 prints them at exit;
//    pcn_emu_device_stats() from ctypes reads them); PCN_EMU_TRACE=1 prints
//    each transfer, =stack also raises SIGUSR1 after it (see count_copy).
#pragma once
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#define CUDART_VERSION 13000

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
};
typedef cudaError_t cudaError;
struct CUstream_st {
  int device;
};
typedef CUstream_st* cudaStream_t;
#define cudaStreamNonBlocking 0x01
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4
};
enum cudaMemoryType {
  cudaMemoryTypeUnregistered = 0,
  cudaMemoryTypeHost = 1,
  cudaMemoryTypeDevice = 2,
  cudaMemoryTypeManaged = 3
};
struct cudaPointerAttributes {
  cudaMemoryType type;
  int device;
  void* devicePointer;
  void* hostPointer;
};
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int major, minor;
  int multiProcessorCount;
};
enum cudaDeviceAttr {
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76
};

namespace emu {
namespace dev {

constexpr const char* kName = "pcn host emulation (not a GPU)";  // fits info()'s 32-column name field

inline size_t env_bytes(const char* name, size_t dflt) {
  const char* e = std::getenv(name);
  if (!e || !*e) return dflt;
  char* end = nullptr;
  double v = std::strtod(e, &end);
  switch (end && *end ? (*end | 0x20) : 0) {
    case 'k': v *= 1024.0; break;
    case 'm': v *= 1024.0 * 1024.0; break;
    case 'g': v *= 1024.0 * 1024.0 * 1024.0; break;
    default: break;
  }
  return size_t(v);
}
inline int sms() {
  const char* e = std::getenv("PCN_EMU_SMS");
  return e ? std::atoi(e) : 132;
}

// Transfer counters (bytes and calls), read by pcn_emu_device_stats().
enum Stat { kH2D, kH2DBytes, kD2H, kD2HBytes, kD2D, kD2DBytes, kMemset, kMemsetBytes, kMalloc, kFree, kNStat };
inline long long stats[kNStat];

struct Arena {
  std::recursive_mutex mu;
  char* base = nullptr;
  size_t size = 0;
  size_t extent = 0;  // high-water mark (page aligned): what open/close mprotect
  bool protect = true;
  int open_depth = 0;
  std::map<uintptr_t, size_t> live;   // allocation -> bytes requested (rounded to 256)
  std::map<uintptr_t, size_t> freel;  // free ranges, coalesced
  std::set<CUstream_st*> streams;
  size_t used = 0;
};
inline Arena& arena();

inline bool in_arena(const void* p) {
  Arena& a = arena();
  const uintptr_t u = reinterpret_cast<uintptr_t>(p), b = reinterpret_cast<uintptr_t>(a.base);
  return u >= b && u < b + a.size;
}
// The live allocation containing [p, p+n), or 0.
inline uintptr_t allocation_of(const void* p, size_t n) {
  Arena& a = arena();
  const uintptr_t u = reinterpret_cast<uintptr_t>(p);
  auto it = a.live.upper_bound(u);
  if (it == a.live.begin()) return 0;
  --it;
  if (u >= it->first && u + n <= it->first + it->second) return it->first;
  return 0;
}

inline struct sigaction& old_segv() {
  static struct sigaction s;
  return s;
}
inline void segv_handler(int sig, siginfo_t* si, void* ctx) {
  Arena& a = arena();
  if (in_arena(si->si_addr)) {
    char buf[512];
    const uintptr_t u = reinterpret_cast<uintptr_t>(si->si_addr);
    uintptr_t lo = 0;
    size_t sz = 0;
    auto it = a.live.upper_bound(u);  // (unsafe in a signal handler in general; we are about to die)
    if (it != a.live.begin()) { --it; lo = it->first; sz = it->second; }
    const int n = std::snprintf(buf, sizeof buf,
                                "\nemu: HOST CODE TOUCHED DEVICE MEMORY at %p (arena offset %zu; allocation %p, "
                                "%zu bytes%s): a host read/write of a CUDA pointer outside a kernel or copy\n",
                                si->si_addr, size_t(u - reinterpret_cast<uintptr_t>(a.base)),
                                reinterpret_cast<void*>(lo), sz, (lo && u < lo + sz) ? "" : ", NOT inside it");
    if (n > 0) { ssize_t w = write(2, buf, size_t(n)); (void)w; }
  }
  // Hand over to the handler that was there before (faulthandler: Python stack), else die.
  struct sigaction& o = old_segv();
  if (o.sa_flags & SA_SIGINFO) {
    if (o.sa_sigaction) { o.sa_sigaction(sig, si, ctx); return; }
  } else if (o.sa_handler != SIG_DFL && o.sa_handler != SIG_IGN && o.sa_handler) {
    o.sa_handler(sig);
    return;
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

inline Arena& arena() {
  static Arena* a = [] {
    auto* r = new Arena();  // never destroyed
    const size_t page = size_t(2) << 20;
    r->size = (env_bytes("PCN_EMU_MEM", size_t(2) << 30) + page - 1) / page * page;
    if (r->size == 0) r->size = page;
    const char* pe = std::getenv("PCN_EMU_PROTECT");
    r->protect = !(pe && pe[0] == '0');
    void* m = mmap(nullptr, r->size, r->protect ? PROT_NONE : PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) { std::fprintf(stderr, "emu: cannot reserve %zu bytes for the device\n", r->size); std::abort(); }
    r->base = static_cast<char*>(m);
    r->freel[reinterpret_cast<uintptr_t>(m)] = r->size;
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv());
    return r;
  }();
  return *a;
}

// Open / close the arena for device access (nested; the caller holds arena().mu).
inline void open_arena() {
  Arena& a = arena();
  if (a.open_depth++ == 0 && a.protect && a.extent) mprotect(a.base, a.extent, PROT_READ | PROT_WRITE);
}
inline void close_arena() {
  Arena& a = arena();
  if (--a.open_depth == 0 && a.protect && a.extent) mprotect(a.base, a.extent, PROT_NONE);
}
struct OpenScope {
  std::lock_guard<std::recursive_mutex> g{arena().mu};
  OpenScope() { open_arena(); }
  ~OpenScope() { close_arena(); }
};

inline thread_local cudaError_t last_error = cudaSuccess;
inline thread_local int current_device = 0;
inline cudaError_t fail(cudaError_t e, const char* what) {
  last_error = e;
  static const bool verbose = std::getenv("PCN_EMU_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "emu: %s -> error %d\n", what, int(e));
  return e;
}
// Loud failures: API misuse that a real GPU would also reject (or corrupt
// memory on): always printed.
inline cudaError_t misuse(cudaError_t e, const char* fmt, const void* p, size_t n) {
  std::fprintf(stderr, "emu: ");
  std::fprintf(stderr, fmt, p, n);
  std::fprintf(stderr, "\n");
  last_error = e;
  return e;
}

// Work on the legacy default stream (0) does not order with the backend's
// cudaStreamNonBlocking stream: a kernel or copy there races with the backend's
// queue on a GPU. Every such use is printed and counted (pcn_emu_device_stats).
inline long long null_stream_uses = 0;
inline bool stream_ok(cudaStream_t s, const char* what = "work") {
  if (s == nullptr) {
    ++null_stream_uses;
    std::fprintf(stderr, "emu: %s on the legacy default stream (0): unordered with the backend's non-blocking stream\n",
                 what);
    return true;
  }
  Arena& a = arena();
  std::lock_guard<std::recursive_mutex> g(a.mu);
  return a.streams.count(s) != 0;
}

inline bool device_range(const void* p, size_t n) { return allocation_of(p, n ? n : 1) != 0; }
// Direction of a copy from its pointers; -1 on a bad range.
inline cudaError_t check_copy(void* d, const void* s, size_t n, cudaMemcpyKind& kind) {
  const bool dd = in_arena(d), sd = in_arena(s);
  if (kind == cudaMemcpyDefault)
    kind = dd ? (sd ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
              : (sd ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  const bool want_dd = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool want_sd = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (kind < 0 || kind > 3)
    return misuse(cudaErrorInvalidMemcpyDirection, "cudaMemcpy: bad kind (dst %p, %zu bytes)", d, n);
  if (dd != want_dd)
    return misuse(cudaErrorInvalidValue, want_dd ? "cudaMemcpy: destination %p is not device memory (%zu bytes)"
                                                 : "cudaMemcpy: destination %p is device memory but the kind says host (%zu bytes)",
                  d, n);
  if (sd != want_sd)
    return misuse(cudaErrorInvalidValue, want_sd ? "cudaMemcpy: source %p is not device memory (%zu bytes)"
                                                 : "cudaMemcpy: source %p is device memory but the kind says host (%zu bytes)",
                  s, n);
  if (dd && !device_range(d, n))
    return misuse(cudaErrorInvalidValue, "cudaMemcpy: destination range %p + %zu bytes is not inside one allocation", d, n);
  if (sd && !device_range(s, n))
    return misuse(cudaErrorInvalidValue, "cudaMemcpy: source range %p + %zu bytes is not inside one allocation", s, n);
  return cudaSuccess;
}
// PCN_EMU_TRACE=1: print every transfer; =stack: also raise SIGUSR1 after each
// (with faulthandler.register(signal.SIGUSR1) Python prints the stack that made it).
inline int trace_mode() {
  static const int m = [] {
    const char* e = std::getenv("PCN_EMU_TRACE");
    return !e || !*e || e[0] == '0' ? 0 : (e[0] == 's' ? 2 : 1);
  }();
  return m;
}
inline void count_copy(cudaMemcpyKind k, size_t n) {
  if (trace_mode()) {
    static const char* names[] = {"H2H", "H2D", "D2H", "D2D", "default"};
    std::fprintf(stderr, "emu: %s %zu bytes\n", names[k], n);
    std::fflush(stderr);
    if (trace_mode() == 2) raise(SIGUSR1);
  }
  switch (k) {
    case cudaMemcpyHostToDevice: ++stats[kH2D]; stats[kH2DBytes] += (long long)n; break;
    case cudaMemcpyDeviceToHost: ++stats[kD2H]; stats[kD2HBytes] += (long long)n; break;
    case cudaMemcpyDeviceToDevice: ++stats[kD2D]; stats[kD2DBytes] += (long long)n; break;
    default: break;
  }
}
}  // namespace dev

inline bool arena_global_ok(const void* p, size_t n) { return dev::device_range(p, n); }
inline const bool arena_hook_installed = (global_ok = arena_global_ok, true);

// Kernel launches (emu.h launch()): the arena is open while the grid runs.
inline void launch_open() {
  dev::arena().mu.lock();
  dev::open_arena();
}
inline void launch_close() {
  dev::close_arena();
  dev::arena().mu.unlock();
}
template <class S>
inline void launch_stream_check(S s) {
  if constexpr (std::is_same<S, cudaStream_t>::value) {
    if (!dev::stream_ok(s, "kernel launch")) {
      std::fprintf(stderr, "emu: kernel launched on an unknown stream %p\n", static_cast<void*>(s));
      std::abort();
    }
  } else if constexpr (std::is_same<S, std::nullptr_t>::value || std::is_integral<S>::value) {
    dev::stream_ok(nullptr, "kernel launch");  // 0 / nullptr: the legacy default stream
  } else {
    static_assert(std::is_same<S, cudaStream_t>::value, "emu: the 4th launch parameter must be a stream");
  }
}
}  // namespace emu

// ---------------------------------------------------------------- the API
inline cudaError_t cudaGetLastError() {
  const cudaError_t e = emu::dev::last_error;
  emu::dev::last_error = cudaSuccess;
  return e;
}
inline cudaError_t cudaPeekAtLastError() { return emu::dev::last_error; }
inline const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
  }
  return "cudaErrorUnknown";
}
inline const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
  }
  return "unknown error";
}
inline cudaError_t cudaRuntimeGetVersion(int* v) { *v = CUDART_VERSION; return cudaSuccess; }
inline cudaError_t cudaDriverGetVersion(int* v) { *v = CUDART_VERSION; return cudaSuccess; }
inline cudaError_t cudaGetDeviceCount(int* n) {
  emu::dev::arena();
  *n = 1;
  return cudaSuccess;
}
inline cudaError_t cudaGetDevice(int* d) { *d = emu::dev::current_device; return cudaSuccess; }
inline cudaError_t cudaSetDevice(int d) {
  if (d != 0) return emu::dev::fail(cudaErrorInvalidDevice, "cudaSetDevice");
  emu::dev::current_device = d;
  return cudaSuccess;
}
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d) {
  if (d != 0) return emu::dev::fail(cudaErrorInvalidDevice, "cudaGetDeviceProperties");
  std::memset(p, 0, sizeof *p);
  std::snprintf(p->name, sizeof p->name, "%s", emu::dev::kName);
  p->totalGlobalMem = emu::dev::arena().size;
  p->sharedMemPerBlock = 48 << 10;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = emu::dev::sms();
  return cudaSuccess;
}
// SM count the split heuristics see: PCN_EMU_SMS, default 132 (H100 SXM).
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr attr, int d) {
  if (d != 0) return emu::dev::fail(cudaErrorInvalidDevice, "cudaDeviceGetAttribute");
  switch (attr) {
    case cudaDevAttrMultiProcessorCount: *v = emu::dev::sms(); return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor: *v = 9; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor: *v = 0; return cudaSuccess;
  }
  return emu::dev::fail(cudaErrorInvalidValue, "cudaDeviceGetAttribute");
}
inline cudaError_t cudaMemGetInfo(size_t* fr, size_t* tot) {
  auto& a = emu::dev::arena();
  std::lock_guard<std::recursive_mutex> g(a.mu);
  *tot = a.size;
  *fr = a.size - a.used;
  return cudaSuccess;
}

inline cudaError_t cudaMalloc(void** p, size_t n) {
  using namespace emu::dev;
  Arena& a = arena();
  std::lock_guard<std::recursive_mutex> g(a.mu);
  *p = nullptr;
  const size_t need = (std::max<size_t>(n, 1) + 255) & ~size_t(255);
  for (auto it = a.freel.begin(); it != a.freel.end(); ++it) {
    if (it->second < need) continue;
    const uintptr_t at = it->first;
    const size_t rest = it->second - need;
    a.freel.erase(it);
    if (rest) a.freel[at + need] = rest;
    a.live[at] = need;
    a.used += need;
    ++stats[kMalloc];
    const size_t page = 4096, end = (at + need - reinterpret_cast<uintptr_t>(a.base) + page - 1) / page * page;
    if (end > a.extent) {
      // Grow the accessible extent; keep it closed unless someone has it open.
      if (a.protect && a.open_depth > 0) mprotect(a.base + a.extent, end - a.extent, PROT_READ | PROT_WRITE);
      a.extent = end;
    }
    {
      OpenScope o;
      std::memset(reinterpret_cast<void*>(at), 0xff, need);  // fresh device memory is garbage: NaN
    }
    *p = reinterpret_cast<void*>(at);
    return cudaSuccess;
  }
  return fail(cudaErrorMemoryAllocation, "cudaMalloc");
}
inline cudaError_t cudaFree(void* p) {
  using namespace emu::dev;
  if (!p) return cudaSuccess;
  Arena& a = arena();
  std::lock_guard<std::recursive_mutex> g(a.mu);
  auto it = a.live.find(reinterpret_cast<uintptr_t>(p));
  if (it == a.live.end()) return misuse(cudaErrorInvalidValue, "cudaFree(%p): not a live allocation (%zu)", p, 0);
  uintptr_t at = it->first;
  size_t n = it->second;
  a.live.erase(it);
  a.used -= n;
  ++stats[kFree];
  if (n >= (size_t(1) << 20)) madvise(reinterpret_cast<void*>(at), n, MADV_DONTNEED);  // give the pages back
  auto nx = a.freel.lower_bound(at);
  if (nx != a.freel.end() && nx->first == at + n) { n += nx->second; a.freel.erase(nx); }
  auto pv = a.freel.lower_bound(at);
  if (pv != a.freel.begin()) {
    --pv;
    if (pv->first + pv->second == at) { at = pv->first; n += pv->second; a.freel.erase(pv); }
  }
  a.freel[at] = n;
  return cudaSuccess;
}
inline cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* r, const void* p) {
  using namespace emu::dev;
  Arena& a = arena();
  std::lock_guard<std::recursive_mutex> g(a.mu);
  std::memset(r, 0, sizeof *r);
  if (in_arena(p) && allocation_of(p, 1)) {
    r->type = cudaMemoryTypeDevice;
    r->device = 0;
    r->devicePointer = const_cast<void*>(p);
  } else {
    r->type = cudaMemoryTypeUnregistered;
    r->device = -2;
    r->hostPointer = const_cast<void*>(p);
  }
  return cudaSuccess;
}

inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  auto& a = emu::dev::arena();
  std::lock_guard<std::recursive_mutex> g(a.mu);
  *s = new CUstream_st{emu::dev::current_device};
  a.streams.insert(*s);
  return cudaSuccess;
}
inline cudaError_t cudaStreamCreate(cudaStream_t* s) { return cudaStreamCreateWithFlags(s, 0); }
inline cudaError_t cudaStreamDestroy(cudaStream_t s) {
  auto& a = emu::dev::arena();
  std::lock_guard<std::recursive_mutex> g(a.mu);
  if (!a.streams.erase(s)) return emu::dev::fail(cudaErrorInvalidResourceHandle, "cudaStreamDestroy");
  delete s;
  return cudaSuccess;
}
// Streams run synchronously: everything queued is done.
inline cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  if (s && !emu::dev::stream_ok(s)) return emu::dev::fail(cudaErrorInvalidResourceHandle, "cudaStreamSynchronize");
  return cudaSuccess;
}
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind kind, cudaStream_t st) {
  using namespace emu::dev;
  if (!stream_ok(st, "cudaMemcpyAsync")) return fail(cudaErrorInvalidResourceHandle, "cudaMemcpyAsync stream");
  if (n == 0) return cudaSuccess;
  OpenScope o;
  const cudaError_t e = check_copy(d, s, n, kind);
  if (e != cudaSuccess) return e;
  count_copy(kind, n);
  std::memmove(d, s, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind kind) {
  return cudaMemcpyAsync(d, s, n, kind, nullptr);
}
inline cudaError_t cudaMemcpy2DAsync(void* d, size_t dp, const void* s, size_t sp, size_t w, size_t h,
                                     cudaMemcpyKind kind, cudaStream_t st) {
  using namespace emu::dev;
  if (!stream_ok(st, "cudaMemcpy2DAsync")) return fail(cudaErrorInvalidResourceHandle, "cudaMemcpy2DAsync stream");
  if (w == 0 || h == 0) return cudaSuccess;
  if (w > dp || w > sp) return misuse(cudaErrorInvalidValue, "cudaMemcpy2D: width %p... %zu bytes exceeds a pitch", d, w);
  OpenScope o;
  const cudaMemcpyKind k0 = kind;
  for (size_t r = 0; r < h; ++r) {
    cudaMemcpyKind k = k0;
    const cudaError_t e = check_copy(static_cast<char*>(d) + r * dp, static_cast<const char*>(s) + r * sp, w, k);
    if (e != cudaSuccess) return e;
    kind = k;
  }
  count_copy(kind, w * h);
  for (size_t r = 0; r < h; ++r) std::memmove(static_cast<char*>(d) + r * dp, static_cast<const char*>(s) + r * sp, w);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t st) {
  using namespace emu::dev;
  if (!stream_ok(st, "cudaMemsetAsync")) return fail(cudaErrorInvalidResourceHandle, "cudaMemsetAsync stream");
  if (n == 0) return cudaSuccess;
  OpenScope o;
  if (!in_arena(p) || !device_range(p, n))
    return misuse(cudaErrorInvalidValue, "cudaMemset: range %p + %zu bytes is not inside one device allocation", p, n);
  ++stats[kMemset];
  stats[kMemsetBytes] += (long long)n;
  std::memset(p, v, n);
  return cudaSuccess;
}
