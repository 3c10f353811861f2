"""Child process for the kill-during-save test (no MPI needed).

usage: python ckpt_writer.py PATH MB
Saves a small checkpoint (epoch 1), prints 'saved 1', then starts a large
save (epoch 2, about MB MiB of weights) whose entries are written slowly,
printing 'writing k' after each: the parent SIGKILLs it mid-write.
"""
import _common  # noqa: F401
from _common import StubVar, StubModel, StubSGD

import sys
import time

import numpy as np

from pyconvnet.distributed import checkpoint as ck

path, mb = sys.argv[1], int(sys.argv[2])
w = [StubVar(np.full((4, 4), 1.0), "a"), StubVar(np.full(3, 2.0), "b")]
opt = StubSGD(0.1, momentum=0.9)
opt.build(w)
model = StubModel(w, opt)
ck.save_checkpoint(path, model, epoch=1, step=10, extra={"note": "first"})
print("saved 1", flush=True)

nbig = max(1, mb // 4)
big = [StubVar(np.full(2 ** 20, float(i), np.float32), "big%d" % i) for i in range(nbig)]  # 4 MiB each
model2 = StubModel(big, StubSGD(0.1))
orig = ck._write_array
count = [0]


def slow_write(zf, name, arr):
    orig(zf, name, arr)
    count[0] += 1
    print("writing %d" % count[0], flush=True)
    time.sleep(0.05)


ck._write_array = slow_write
ck.save_checkpoint(path, model2, epoch=2, step=20)
print("saved 2", flush=True)
