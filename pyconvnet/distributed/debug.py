"""PYCONVNET_DIST_DEBUG=1: per-collective fingerprints and a stall watchdog.

check_collective(): before every collective, the ranks allgather
(sequence number, op code, byte count); any difference raises a
DistributedError on every rank naming the first rank that differs from
rank 0 and both collectives ("rank 1 is at collective #12 broadcast (40 bytes)
while rank 0 is at #12 allreduce (400 bytes)").

The watchdog thread (one per rank) watches the collective in flight. When it
has waited longer than PYCONVNET_DIST_TIMEOUT seconds (default 60), it asks
every other rank for its state over a side channel: a separate duplicated
communicator, non-blocking point-to-point messages (Isend/Iprobe/Test) and a
deadline, so the diagnosis itself can never block forever. It prints which
ranks lag (at an earlier collective, computing, or not answering) and calls
MPI.COMM_WORLD.Abort(1).
"""
import os
import sys
import threading
import time

import numpy as np

from .core import DistributedError, _OPCODES

_TAG_QUERY = 7301
_TAG_REPLY = 7302
_NAMES = {v: k for k, v in _OPCODES.items()}


def check_collective(st, name, code, nbytes):
    me = np.array([st.seq, code, nbytes], np.int64)
    table = np.empty((st.size, 3), np.int64)
    st.comm.Allgather(me, table)
    bad = np.nonzero((table != table[0]).any(axis=1))[0]
    if bad.size:
        r = int(bad[0])

        def d(row):
            return "#%d %s (%d bytes)" % (row[0], _NAMES.get(int(row[1]), "?"), row[2])
        raise DistributedError(
            "pyconvnet.distributed (debug): collective mismatch: rank %d is at collective %s while rank 0 "
            "is at %s (this rank is %d). The ranks called different collectives, or the same one with "
            "different sizes: check for rank-dependent control flow." % (r, d(table[r]), d(table[0]), st.rank))


def timeout_s():
    return float(os.environ.get("PYCONVNET_DIST_TIMEOUT", "60"))


class Watchdog:
    def __init__(self, st, timeout, poll=0.1, answer_wait=None):
        self.st = st
        self.timeout = float(timeout)
        self.poll = poll
        self.answer_wait = answer_wait if answer_wait is not None else min(10.0, max(2.0, self.timeout / 2))
        self.comm = st.comm.Dup()  # side channel: never shares matching with the training collectives
        self._stop = threading.Event()
        self._pending = []
        self.thread = threading.Thread(target=self._run, name="pyconvnet-dist-watchdog", daemon=True)
        self.thread.start()

    def _status(self):
        op = self.st.op
        now = time.monotonic()
        if op is None:
            return np.array([self.st.seq, 0, 0, int((now - self.st.last_progress) * 1000)], np.int64)
        return np.array([self.st.seq, 1, _OPCODES.get(op[0].split(":")[-1], 0) if not op[0].startswith("fingerprint")
                         else _OPCODES["fingerprint"], int((now - op[2]) * 1000)], np.int64)

    def _answer_queries(self):
        from mpi4py import MPI
        status = MPI.Status()
        while self.comm.Iprobe(source=MPI.ANY_SOURCE, tag=_TAG_QUERY, status=status):
            q = np.empty(4, np.int64)
            self.comm.Recv(q, source=status.Get_source(), tag=_TAG_QUERY)
            reply = self._status()
            self._pending.append((self.comm.Isend(reply, dest=status.Get_source(), tag=_TAG_REPLY), reply))
        self._pending = [(r, b) for r, b in self._pending if not r.Test()]

    def _run(self):
        while not self._stop.wait(self.poll):
            try:
                self._answer_queries()
                op = self.st.op
                if op is not None and time.monotonic() - op[2] > self.timeout:
                    self._diagnose_and_abort(op)
            except Exception as e:  # never let the watchdog itself hang or crash silently
                sys.stderr.write("[pyconvnet.distributed] watchdog error on rank %d: %r\n" % (self.st.rank, e))
                return

    def _diagnose_and_abort(self, op):
        from mpi4py import MPI
        st = self.st
        mine = self._status()
        q = np.array([st.rank, mine[0], 0, 0], np.int64)
        sends = [self.comm.Isend(q, dest=r, tag=_TAG_QUERY) for r in range(st.size) if r != st.rank]
        answers = {}
        deadline = time.monotonic() + self.answer_wait
        status = MPI.Status()
        while len(answers) < st.size - 1 and time.monotonic() < deadline:
            self._answer_queries()  # others may be diagnosing too
            if self.comm.Iprobe(source=MPI.ANY_SOURCE, tag=_TAG_REPLY, status=status):
                buf = np.empty(4, np.int64)
                self.comm.Recv(buf, source=status.Get_source(), tag=_TAG_REPLY)
                answers[status.Get_source()] = buf
            else:
                time.sleep(0.01)
        lines = ["[pyconvnet.distributed] STALL: rank %d has waited %.1f s in collective #%d %s (%d bytes); "
                 "PYCONVNET_DIST_TIMEOUT=%g s. State of every rank:" % (
                     st.rank, time.monotonic() - op[2], st.seq, op[0], op[1], self.timeout)]
        lagging = []
        for r in range(st.size):
            if r == st.rank:
                lines.append("  rank %d: in collective #%d %s (this rank)" % (r, st.seq, op[0]))
                continue
            a = answers.get(r)
            if a is None:
                lines.append("  rank %d: NO ANSWER within %.1f s (dead, or its Python is blocked)"
                             % (r, self.answer_wait))
                lagging.append(r)
            elif a[1] == 0:
                lines.append("  rank %d: not in a collective (last finished #%d, %.1f s ago): LAGGING"
                             % (r, a[0], a[3] / 1000.0))
                lagging.append(r)
            elif a[0] < st.seq:
                lines.append("  rank %d: in an earlier collective #%d %s for %.1f s: LAGGING"
                             % (r, a[0], _NAMES.get(int(a[2]), "?"), a[3] / 1000.0))
                lagging.append(r)
            else:
                lines.append("  rank %d: in collective #%d %s for %.1f s"
                             % (r, a[0], _NAMES.get(int(a[2]), "?"), a[3] / 1000.0))
        lines.append("[pyconvnet.distributed] lagging rank(s): %s; aborting the job."
                     % (", ".join(map(str, lagging)) if lagging else "none found (all ranks are waiting: "
                        "a collective mismatch? rerun to see check_collective's message)"))
        sys.stderr.write("\n".join(lines) + "\n")
        del sends
        from .core import _abort_job
        _abort_job(3)

    def stop(self, free=True):
        self._stop.set()
        self.thread.join(timeout=5)
        if not free:
            return
        try:
            self._answer_queries()
            self.comm.Free()
        except Exception:
            pass


def start_watchdog(st):
    from .core import mpi_threads_supported
    if not mpi_threads_supported():
        sys.stderr.write("[pyconvnet.distributed] debug watchdog disabled: MPI lacks MPI_THREAD_MULTIPLE\n")
        return None
    return Watchdog(st, timeout_s())
