"""Sequence-to-vector: an Embedding + GRU classifier on a small synthetic sentiment corpus
(sentences built from positive/negative/neutral words; the label is the sign of the sum)."""
import numpy as np

import pyconvnet as keras
from _common import parse

POS = "good great excellent superb lovely wonderful fine happy".split()
NEG = "bad awful terrible poor horrible sad boring dull".split()
NEU = "the a movie film plot actor it was is and but very quite story scene".split()
VOCAB = ["<pad>"] + POS + NEG + NEU
IDX = {w: i for i, w in enumerate(VOCAB)}


def corpus(n, rng, max_len=20):
    X = np.zeros((n, max_len), np.int64)
    y = np.zeros(n, np.int64)
    for i in range(n):
        length = rng.integers(5, max_len + 1)
        words = list(rng.choice(NEU, length))
        k = rng.integers(1, 4)
        label = rng.integers(0, 2)
        for _ in range(k):
            words[rng.integers(0, length)] = rng.choice(POS if label else NEG)
        X[i, :length] = [IDX[w] for w in words]
        y[i] = label
    return X, y


args = parse(__doc__, epochs=5, n=4000)
if args.quick:
    args.epochs, args.n = 1, 512
rng = np.random.default_rng(0)
X, y = corpus(args.n, rng)
split = int(0.8 * args.n)
model = keras.models.Sequential([
    keras.layers.Embedding(len(VOCAB), 16),
    keras.layers.GRU(32),
    keras.layers.Dense(1, activation="sigmoid")])
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(X[:split], y[:split], epochs=args.epochs, batch_size=32, validation_data=(X[split:], y[split:]), verbose=2)
print("test accuracy: %.4f" % model.evaluate(X[split:], y[split:], verbose=0)[1])
