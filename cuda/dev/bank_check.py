"""bank_check.py — shared-memory bank conflicts of sgemm_tc3 (cuda/gemm_kernels.cuh), by enumeration.

Replays, in Python, the index math of every shared-memory access of the v3 kernel (cp.async
stores, ldmatrix.x4 and 16-byte fragment loads; both precisions, both layouts of each operand)
and counts the wavefronts of each warp instruction: a 16-byte access is served in 4 phases of 8
consecutive lanes, conflict free when the 8 lanes hit 8 distinct 16-byte bank slots (address/16
mod 8) or the same address; ldmatrix.x4 reads 4 matrices, one phase each (lanes 8q..8q+7 give
the row addresses of matrix q). Prints the worst case per access pattern; exits 1 on a conflict.
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
    return f2(k & 3) ^ f2((k >> 2) & 3)


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

for warp in range(8):
    wm, wn = (warp // 4) * WM, (warp % 4) * WN
    # TF32 (k steps of 8)
    for s in range(4):
        for i in range(4):  # A K-major, ldmatrix.x4
            note("TF32 A K-major ldmatrix",
                 [off_k(wm + 16 * i + (L & 7) + ((L >> 3) & 1) * 8, 2 * s + (L >> 4)) for L in range(32)])
        for jj in range(4):  # B K-major, ldmatrix.x4
            note("TF32 B K-major ldmatrix",
                 [off_k(wn + 16 * jj + 8 * (L >> 4) + (L & 7), 2 * s + ((L >> 3) & 1)) for L in range(32)])
        for h in range(2):
            for d in range(2):
                note("TF32 A MN-major lds128",
                     [off_mn(BM, 8 * s + L % 4 + 4 * h, (wm + 8 * (L // 4)) // 4 + d) for L in range(32)])
                note("TF32 B MN-major lds128",
                     [off_mn(BN, 8 * s + L % 4 + 4 * h, (wn + 8 * (L // 4)) // 4 + d) for L in range(32)])
    # BF16 (k steps of 16)
    for s in range(2):
        for i in range(4):
            for h in range(2):
                note("BF16 A K-major lds128", [off_k(wm + 16 * i + L // 4 + 8 * h, 4 * s + L % 4) for L in range(32)])
        for j in range(8):
            note("BF16 B K-major lds128", [off_k(wn + 8 * j + L // 4, 4 * s + L % 4) for L in range(32)])
        for e in range(4):
            for d in range(2):
                note("BF16 A MN-major lds128",
                     [off_mn(BM, 16 * s + 4 * (L % 4) + e, (wm + 8 * (L // 4)) // 4 + d) for L in range(32)])
                note("BF16 B MN-major lds128",
                     [off_mn(BN, 16 * s + 4 * (L % 4) + e, (wn + 8 * (L // 4)) // 4 + d) for L in range(32)])

bad = False
for k, v in worst.items():
    print("%-26s %d wavefronts per warp instruction (4 = conflict free)" % (k, v))
    bad |= v > 4
sys.exit(1 if bad else 0)
