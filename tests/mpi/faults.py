"""Failure modes that must end the job (non-zero) instead of hanging.

usage: mpiexec -n 2 python tests/mpi/faults.py MODE
  raise          rank 1 raises at step 3 while rank 0 waits in the bucket Allreduce
  kill           rank 1 SIGKILLs itself at step 3
  mismatch       ranks build different models; the DistributedError is not caught
  stall          (PYCONVNET_DIST_DEBUG=1) rank 1 sleeps while rank 0 waits: the watchdog names rank 1
  wrong_op       (PYCONVNET_DIST_DEBUG=1) rank 0 allreduces while rank 1 broadcasts
  exit           rank 1 calls sys.exit(3) mid-loop
Each rank prints 'step k' lines; the test asserts the exit code and time.
"""
import _common  # noqa: F401
from _common import StubVar, StubSGD

import os
import signal
import sys
import time

import numpy as np

import pyconvnet as pcn
import pyconvnet.distributed as hvd

mode = sys.argv[1]
hvd.init()
r = hvd.rank()
shape = (64, 32) if not (mode == "mismatch" and r == 1) else (64, 33)
W = StubVar(np.zeros(shape), "dense/kernel")
opt = hvd.DistributedOptimizer(StubSGD(0.01))
for step in range(1000):
    print("rank %d step %d" % (r, step), flush=True)
    if r == 1 and step == 3:
        if mode == "raise":
            raise RuntimeError("injected failure on rank 1")
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "stall":
            time.sleep(120)
        if mode == "exit":
            sys.exit(3)
    if mode == "wrong_op" and step == 3:
        if r == 0:
            hvd.allreduce(np.ones(10, np.float32))
        else:
            hvd.broadcast(np.ones(10, np.float32), 0)
    opt.apply_gradients([(pcn.from_numpy(np.ones(shape, np.float32)), W)])
    time.sleep(0.01)
print("UNREACHABLE rank %d finished" % r, flush=True)
