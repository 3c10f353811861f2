"""DistributedSampler: which sample indices each rank trains on.

Every rank draws the same permutation, seeded by (seed, epoch), so no
communication is needed. Training (drop_last=True) drops the tail that does
not divide evenly and deals the rest rank::size, so every rank runs the same
number of steps and no rank waits forever in a collective the others never
reach. drop_last=False pads by wrapping around (a few samples seen twice).
Evaluation uses eval_shard(): exact, contiguous, unpadded.
"""
import numpy as np

__all__ = ["DistributedSampler", "eval_shard"]


class DistributedSampler:
    def __init__(self, n, rank=None, size=None, shuffle=True, seed=0, drop_last=True):
        from . import core
        if rank is None or size is None:
            if core.is_initialized():
                rank = core.rank() if rank is None else rank
                size = core.size() if size is None else size
            else:
                rank = 0 if rank is None else rank
                size = 1 if size is None else size
        n, rank, size = int(n), int(rank), int(size)
        if n < 0:
            raise ValueError("DistributedSampler: n must be >= 0, got %d" % n)
        if size < 1 or not (0 <= rank < size):
            raise ValueError("DistributedSampler: need 0 <= rank < size, got rank=%d size=%d" % (rank, size))
        self.n, self.rank, self.size = n, rank, size
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0

    def set_epoch(self, epoch):
        """Call at the start of every epoch: the permutation depends on (seed, epoch)."""
        self.epoch = int(epoch)

    def __len__(self):
        if self.drop_last:
            return self.n // self.size
        return -(-self.n // self.size)

    def permutation(self):
        """The global order for this epoch (identical on every rank)."""
        if not self.shuffle:
            return np.arange(self.n, dtype=np.int64)
        rng = np.random.Generator(np.random.PCG64([self.seed & 0xFFFFFFFF, self.epoch & 0xFFFFFFFF, 0x5EED]))
        return rng.permutation(self.n).astype(np.int64)

    def indices(self):
        """This rank's indices for the current epoch (len(self) of them)."""
        perm = self.permutation()
        if self.drop_last:
            total = (self.n // self.size) * self.size
            perm = perm[:total]
        else:
            total = len(self) * self.size
            if total > self.n and self.n > 0:
                perm = np.concatenate([perm, perm[:total - self.n]])
        return np.ascontiguousarray(perm[self.rank::self.size])

    def __iter__(self):
        return iter(self.indices().tolist())

    def state_dict(self):
        return {"n": self.n, "seed": self.seed, "epoch": self.epoch, "shuffle": self.shuffle,
                "drop_last": self.drop_last, "size": self.size}

    def load_state_dict(self, state):
        if int(state["n"]) != self.n:
            raise ValueError("DistributedSampler.load_state_dict: checkpoint was made for n=%d samples, this "
                             "sampler has n=%d" % (int(state["n"]), self.n))
        self.seed = int(state["seed"])
        self.epoch = int(state["epoch"])
        self.shuffle = bool(state["shuffle"])
        self.drop_last = bool(state["drop_last"])


def eval_shard(n, rank, size):
    """(start, stop) of rank's exact contiguous share of n items (the first
    n % size ranks get one more); the shares cover 0..n-1 once."""
    n, rank, size = int(n), int(rank), int(size)
    base, rem = divmod(n, size)
    start = rank * base + min(rank, rem)
    return start, start + base + (1 if rank < rem else 0)
