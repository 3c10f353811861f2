"""Data-parallel LeNet-5 on MNIST, horovod.keras style (the bundled subset).

    mpiexec -n 2 python -m mpi4py examples/train_distributed.py --quick

Every rank trains on its own 1/size of each epoch's shuffled data; gradients
are averaged over the ranks after every step, so the ranks keep identical
weights. Rank 0 prints and writes the checkpoint. Works as one process too.
"""
import os
import tempfile

import numpy as np

import pyconvnet as keras
import pyconvnet.distributed as hvd
from _common import parse

args = parse(__doc__, epochs=3, batch_size=64, lr=0.05, checkpoint_dir="")
hvd.init()

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_subset()
if args.quick:
    x_train, y_train, x_test, y_test = x_train[:1024], y_train[:1024], x_test[:250], y_test[:250]
    args.epochs = 1
x_train = (x_train[..., None] / 255.0).astype(np.float32)
x_test = (x_test[..., None] / 255.0).astype(np.float32)

keras.utils.set_random_seed(42)  # the same initial weights everywhere (rank 0's are broadcast anyway)
model = keras.applications.LeNet5(input_shape=(28, 28, 1), classes=10)
# horovod's rule: scale the learning rate with the number of ranks (the global batch grows with it)
opt = hvd.DistributedOptimizer(keras.optimizers.SGD(args.lr * hvd.size(), momentum=0.9))
model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])

ckdir = args.checkpoint_dir or os.path.join(tempfile.gettempdir(), "pyconvnet_train_distributed")
callbacks = [
    hvd.callbacks.BroadcastGlobalVariablesCallback(0),   # rank 0's initial weights everywhere
    hvd.callbacks.MetricAverageCallback(),               # epoch metrics averaged over the ranks
    hvd.callbacks.LearningRateWarmupCallback(args.lr * hvd.size(), warmup_epochs=1, verbose=0),
]
if hvd.rank() == 0:
    print("%d rank(s), %d samples per rank per epoch, global batch %d"
          % (hvd.size(), len(x_train) // hvd.size(), args.batch_size * hvd.size()))
    callbacks.append(keras.callbacks.ModelCheckpoint(os.path.join(ckdir, "lenet5-{epoch}.weights.h5"),
                                                     save_weights_only=True))

model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, callbacks=callbacks,
          verbose=2 if hvd.rank() == 0 else 0)
# a resumable checkpoint (weights + optimizer state + RNG), written by rank 0 only
path = hvd.save_checkpoint(os.path.join(ckdir, "ckpt-%d.npz" % args.epochs), model, epoch=args.epochs)
# each rank evaluates its exact share of the test set; the sums are reduced
loss, acc = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
if hvd.rank() == 0:
    print("checkpoint: %s" % path)
    print("test loss %.4f, test accuracy: %.4f" % (loss, acc))
