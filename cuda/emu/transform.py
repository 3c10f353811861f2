# transform.py SRC.cu DST.cpp — rewrite a cuda/*.cu file as host C++ for the
# emulation build (see run.sh): CUDA includes -> emu.h, kernel<<<cfg>>>(args)
# -> emu::launch([&]() { kernel(args); }, cfg).
import re, sys
src, dst = sys.argv[1], sys.argv[2]
s = open(src).read()
s = s.replace('#include <cuda_runtime.h>', '#include "../emu/emu.h"')
s = s.replace('#include "../csrc/', '#include "../')
for h in ("check.cuh", "scratch.cuh", "stream.cuh"):
    s = s.replace('#include "%s"' % h, '')
s = s.replace('#include "register.cuh"', '#include "../emu/register_families.h"')
out = []
i = 0
while True:
    j = s.find('<<<', i)
    if j < 0:
        out.append(s[i:]); break
    # kernel name: go back over identifier and optional template args
    k = j
    if s[k-1] == '>':
        depth = 0
        while True:
            k -= 1
            if s[k] == '>': depth += 1
            elif s[k] == '<':
                depth -= 1
                if depth == 0: break
    while k > 0 and (s[k-1].isalnum() or s[k-1] in '_:'):
        k -= 1
    name = s[k:j]
    e = s.find('>>>', j)
    cfg = s[j+3:e]
    assert s[e+3] == '(', s[e:e+20]
    depth = 0; p = e+3
    while True:
        if s[p] == '(': depth += 1
        elif s[p] == ')':
            depth -= 1
            if depth == 0: break
        p += 1
    args = s[e+4:p]
    out.append(s[i:k])
    out.append('emu::launch([&]() { %s(%s); }, %s)' % (name, args, cfg))
    i = p + 1
open(dst, 'w').write(''.join(out))
