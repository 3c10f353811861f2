"""Data-parallel training over MPI with horovod.keras's API (``import pyconvnet.distributed as hvd``).

    import pyconvnet as keras
    import pyconvnet.distributed as hvd
    hvd.init()
    opt = hvd.DistributedOptimizer(keras.optimizers.SGD(0.01 * hvd.size()))
    model.compile(optimizer=opt, ...)
    model.fit(x, y, callbacks=[hvd.callbacks.BroadcastGlobalVariablesCallback(0),
                               hvd.callbacks.MetricAverageCallback()],
              verbose=1 if hvd.rank() == 0 else 0)

Launch: ``mpiexec -n 4 python train.py`` (or, safest, ``mpiexec -n 4 python
-m mpi4py train.py``). See docs/DISTRIBUTED.md. Importing this package does
not import MPI; init() does (and works as a single process without it).
"""
from .core import (init, shutdown, is_initialized, rank, size, local_rank, local_size, comm,
                   cross_rank, cross_size, mpi_built, mpi_enabled,
                   allreduce, broadcast, allgather, broadcast_object, allgather_object, alltoall, barrier,
                   grouped_allreduce, reducescatter, start_timeline, stop_timeline,
                   Average, Sum, Min, Max, Product, Adasum, Compression, DistributedError,
                   mpi_threads_supported)
from .optimizer import DistributedOptimizer, load_model
from .tape import (DistributedGradientTape, broadcast_variables, gloo_enabled, gloo_built, nccl_built,
                   ddl_built, ccl_built, cuda_built, rocm_built)
from .sampler import DistributedSampler
from .checkpoint import save_checkpoint, load_checkpoint, restore_checkpoint, latest_checkpoint
from . import callbacks, checkpoint, _fit  # noqa: F401

__all__ = ["init", "shutdown", "is_initialized", "rank", "size", "local_rank", "local_size", "comm",
           "cross_rank", "cross_size", "mpi_built", "mpi_enabled",
           "allreduce", "broadcast", "allgather", "broadcast_object", "allgather_object", "alltoall", "barrier",
           "grouped_allreduce", "reducescatter", "start_timeline", "stop_timeline",
           "Average", "Sum", "Min", "Max", "Product", "Adasum", "Compression", "DistributedError",
           "DistributedOptimizer", "DistributedSampler", "callbacks", "checkpoint",
           "save_checkpoint", "load_checkpoint", "restore_checkpoint", "latest_checkpoint",
           "mpi_threads_supported", "load_model", "DistributedGradientTape", "broadcast_variables",
           "gloo_enabled", "gloo_built", "nccl_built", "ddl_built", "ccl_built", "cuda_built", "rocm_built"]
