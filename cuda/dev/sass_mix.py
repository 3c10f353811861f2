"""sass_mix.py — instruction mix of the main loop of each tensor-core GEMM kernel, from SASS.

    nvcc -std=c++17 -O3 -arch=sm_90 -cubin -c cuda/gemm.cu -o /tmp/gemm.cubin
    nvdisasm /tmp/gemm.cubin > /tmp/gemm.sass        # nvdisasm: CUDA toolkit or the
    python3 cuda/dev/sass_mix.py /tmp/gemm.sass       # nvidia-cuda-nvdisasm wheel

For every kernel whose name contains "tc" (sgemm_tc, sgemm_tc3, sgemm_bf16_tc3), the
main loop is taken as the instructions from the last DEPBAR (cp.async wait) or barrier
before the first HMMA to the first branch after the last HMMA; prints its length, the
HMMA count and the most frequent opcodes. Issue-slot estimate per SM and k tile:
8 warps x length / 4 schedulers (cycles), to compare with the tensor and shared-memory
limits in NOTES.md.
"""
import collections
import re
import sys

txt = open(sys.argv[1]).read()
parts = re.split(r'\n\s*\.text\.(\S+):', txt)
for i in range(1, len(parts), 2):
    name, body = parts[i], parts[i + 1]
    if 'tc' not in name or 'to_bf16' in name:
        continue
    lines = [l for l in body.split('\n') if re.search(r'/\*[0-9a-f]{4,}\*/', l)]
    hm = [j for j, l in enumerate(lines) if 'HMMA' in l]
    if not hm:
        continue
    marks = [j for j in range(hm[0]) if 'DEPBAR' in lines[j] or 'BAR.SYNC' in lines[j]]
    lo = marks[-1] if marks else 0
    dep = [j for j in range(lo) if 'DEPBAR' in lines[j]]
    lo = dep[-1] if dep else lo
    hi = next(j for j in range(hm[-1], len(lines)) if re.search(r'\bBRA\b', lines[j]))
    ops = [re.search(r'/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)', l).group(1)
           for l in lines[lo:hi + 1]]
    c = collections.Counter(ops)
    nh = sum(v for k, v in c.items() if k.startswith('HMMA'))
    print("%-70s loop %4d instr, %3d HMMA, issue ~%4d cycles/SM/iteration" % (name[:70], len(ops), nh, 8 * len(ops) // 4))
    print("    " + ", ".join("%s %d" % kv for kv in c.most_common(10)))
