"""bank_check.py — shared-memory bank conflicts of sgemm_tc3 (cuda/gemm_kernels.cuh), by enumeration.

Replays, in Python, the index math of every shared-memory access of the v3 kernel (cp.async
stores, ldmatrix.x4 and 16-byte fragment loads; both precisions, both layouts of each operand)
and counts the wavefronts of each warp instruction: a 16-byte access is served in 4 phases of 8
consecutive lanes, conflict free when the 8 lanes hit 8 distinct 16-byte bank slots (address/16
mod 8) or the same address; ldmatrix.x4 reads 4 matrices, one phase each (lanes 8q..8q+7 give
the row addresses of matrix q); a 4-byte access: one phase of 32 lanes, conflict free when the
words hit 32 distinct banks. The kernel computes its offsets as a per-thread base XOR a constant
(plus an immediate); this script checks those against the plain swizzle formula too. Prints the
worst case per access pattern; exits 1 on a conflict or a formula mismatch.
    python3 cuda/dev/bank_check.py
"""
import sys

BM, BN, BK = 128, 256, 32
WM, WN = 64, 64


def swz_k(r):
    return ((r & 1) << 2) | ((r >> 1) & 3)


def f2(x):
    return (x & 1) | ((x & 2) << 1)


def swz_mn(k):
    return ((k & 3) << 1) ^ f2((k >> 2) & 3)


def off_k(r, kc):
    return r * BK + ((kc ^ swz_k(r)) << 2)


def off_mn(rows, k, rc):
    return k * rows + ((rc ^ swz_mn(k)) << 2)


def wavefronts(offs):
    """offs: 32 float offsets (16-byte accesses) of one warp instruction -> phases needed."""
    total = 0
    for ph in range(4):
        slots = {}
        for o in offs[8 * ph:8 * ph + 8]:
            assert o % 4 == 0
            slots.setdefault((o // 4) % 8, set()).add(o)
        total += max(len(v) for v in slots.values())
    return total


worst = {}


def note(name, offs):
    w = wavefronts(offs)
    worst[name] = max(worst.get(name, 0), w)


# cp.async stores (tc3_load): every instruction i of every warp
for rows, kmaj, name in ((BM, True, "A K-major store"), (BM, False, "A MN-major store"),
                         (BN, True, "B K-major store"), (BN, False, "B MN-major store")):
    chunks = rows * BK // 4
    for i in range(chunks // 256):
        for w in range(8):
            offs = []
            for lane in range(32):
                c = 32 * w + lane + 256 * i
                if kmaj:
                    offs.append(off_k(c // (BK // 4), c % (BK // 4)))
                else:
                    offs.append(off_mn(rows, c // (rows // 4), c % (rows // 4)))
            note(name, offs)
    # coverage: every chunk written exactly once
    seen = set()
    for c in range(chunks):
        o = off_k(c // (BK // 4), c % (BK // 4)) if kmaj else off_mn(rows, c // (rows // 4), c % (rows // 4))
        assert o not in seen and 0 <= o < rows * BK
        seen.add(o)

def wavefronts32(offs):
    banks = {}
    for o in offs:
        banks.setdefault(o % 32, set()).add(o)
    return max(len(v) for v in banks.values())


def elem_mn(rows, k, r):  # float offset of element (k, r) in an MN-major tile
    return off_mn(rows, k, r // 4) + r % 4


worst32 = {}
mismatch = []


def same(name, a, b):
    if a != b:
        mismatch.append(name)


for warp in range(8):
    wm, wn = (warp // 4) * WM, (warp % 4) * WN
    # per-thread bases as in Tc3Frag::init
    def fa_tf32_k(L): return off_k(wm + (L & 7) + ((L >> 3) & 1) * 8, L >> 4)
    def fb_tf32_k(L): return off_k(wn + 8 * (L >> 4) + (L & 7), (L >> 3) & 1)
    def fa_tf32_mn(L): g, t = L // 4, L % 4; return t * BM + (((wm + 4 * (g // 4)) ^ (t << 3)) + g % 4)
    def fb_tf32_mn(L): g, t = L // 4, L % 4; return t * BN + (((wn + 4 * (g // 4)) ^ (t << 3)) + g % 4)
    def fa_bf16_k(L): return off_k(wm + L // 4, L % 4)
    def fb_bf16_k(L): return off_k(wn + L // 4, L % 4)
    def fa_bf16_mn(L): g, t = L // 4, L % 4; return 4 * t * BM + ((wm + 8 * g) ^ (f2(t) << 2))
    def fb_bf16_mn(L): g, t = L // 4, L % 4; return 4 * t * BN + ((wn + 8 * g) ^ (f2(t) << 2))
    # TF32 (k steps of 8)
    for s in range(4):
        for i in range(4):  # A K-major, ldmatrix.x4
            offs = [(fa_tf32_k(L) ^ (8 * s)) + 512 * i for L in range(32)]
            for L in range(32):
                same("TF32 A ldmatrix", offs[L], off_k(wm + 16 * i + (L & 7) + ((L >> 3) & 1) * 8, 2 * s + (L >> 4)))
            note("TF32 A K-major ldmatrix", offs)
        for jj in range(4):  # B K-major, ldmatrix.x4
            offs = [(fb_tf32_k(L) ^ (8 * s)) + 512 * jj for L in range(32)]
            for L in range(32):
                same("TF32 B ldmatrix", offs[L], off_k(wn + 16 * jj + 8 * (L >> 4) + (L & 7), 2 * s + ((L >> 3) & 1)))
            note("TF32 B K-major ldmatrix", offs)
        for h in range(2):
            kr = 8 * s + 4 * h
            x = f2((kr >> 2) & 3) << 2
            for i in range(4):
                for v in range(2):
                    d = 16 * i + 8 * v
                    offs = [(fa_tf32_mn(L) ^ (x ^ (d & 31))) + (d & ~31) + kr * BM for L in range(32)]
                    for L in range(32):
                        same("TF32 A MN", offs[L], elem_mn(BM, kr + L % 4, wm + 16 * i + 8 * v + L // 4))
                    k = "TF32 A MN-major lds32"
                    worst32[k] = max(worst32.get(k, 0), wavefronts32(offs))
            for j in range(8):
                offs = [(fb_tf32_mn(L) ^ (x ^ ((8 * j) & 31))) + ((8 * j) & ~31) + kr * BN for L in range(32)]
                for L in range(32):
                    same("TF32 B MN", offs[L], elem_mn(BN, kr + L % 4, wn + 8 * j + L // 4))
                k = "TF32 B MN-major lds32"
                worst32[k] = max(worst32.get(k, 0), wavefronts32(offs))
    # BF16 (k steps of 16)
    for s in range(2):
        for i in range(4):
            for h in range(2):
                offs = [(fa_bf16_k(L) ^ (16 * s)) + 512 * i + 256 * h for L in range(32)]
                for L in range(32):
                    same("BF16 A K", offs[L], off_k(wm + 16 * i + L // 4 + 8 * h, 4 * s + L % 4))
                note("BF16 A K-major lds128", offs)
        for j in range(8):
            offs = [(fb_bf16_k(L) ^ (16 * s)) + 256 * j for L in range(32)]
            for L in range(32):
                same("BF16 B K", offs[L], off_k(wn + 8 * j + L // 4, 4 * s + L % 4))
            note("BF16 B K-major lds128", offs)
        for e in range(4):
            for d in range(2):
                c = (e << 3) ^ (4 * d)
                offs = [(fa_bf16_mn(L) ^ c) + (16 * s + e) * BM for L in range(32)]
                for L in range(32):
                    same("BF16 A MN", offs[L], off_mn(BM, 16 * s + 4 * (L % 4) + e, (wm + 8 * (L // 4)) // 4 + d))
                note("BF16 A MN-major lds128", offs)
                offs = [(fb_bf16_mn(L) ^ c) + (16 * s + e) * BN for L in range(32)]
                for L in range(32):
                    same("BF16 B MN", offs[L], off_mn(BN, 16 * s + 4 * (L % 4) + e, (wn + 8 * (L // 4)) // 4 + d))
                note("BF16 B MN-major lds128", offs)

# cp.async destinations as Tc3Loader computes them (base XOR constant + immediate)
for rows, kmaj in ((BM, True), (BM, False), (BN, True), (BN, False)):
    cpr = BK // 4 if kmaj else rows // 4
    rpp = 256 // cpr
    for tid in range(256):
        k, rc = tid // cpr, tid % cpr
        dst = off_k(k, rc) if kmaj else off_mn(rows, k, rc)
        for i in range(rows * BK // 4 // 256):
            c = tid + 256 * i
            want = off_k(c // cpr, c % cpr) if kmaj else off_mn(rows, c // cpr, c % cpr)
            got = dst + rpp * i * BK if kmaj else (dst ^ (swz_mn(rpp * i) << 2)) + rpp * i * rows
            same("loader %d %s" % (rows, kmaj), got, want)

bad = False
for k, v in worst.items():
    print("%-26s %d wavefronts per warp instruction (4 = conflict free)" % (k, v))
    bad |= v > 4
for k, v in worst32.items():
    print("%-26s %d wavefronts per warp instruction (1 = conflict free)" % (k, v))
    bad |= v > 1
if mismatch:
    print("offset formula mismatches:", sorted(set(mismatch)))
    bad = True
else:
    print("per-thread base ^ constant offsets == swizzle formula: all patterns")
sys.exit(1 if bad else 0)
