"""Sequence-to-sequence with an LSTM encoder and decoder: learn to reverse digit strings.
The decoder gets the encoder's final states and the reversed string shifted right
(teacher forcing)."""
import numpy as np

import pyconvnet as keras
from _common import parse

args = parse(__doc__, epochs=10, n=6000, length=6)
if args.quick:
    args.epochs, args.n = 1, 256
rng = np.random.default_rng(0)
V = 10 + 1  # digits + start token
START = 10
src = rng.integers(0, 10, (args.n, args.length))
tgt = src[:, ::-1]
dec_in = np.concatenate([np.full((args.n, 1), START), tgt[:, :-1]], axis=1)

enc_inputs = keras.Input(shape=(args.length,))
dec_inputs = keras.Input(shape=(args.length,))
embed = keras.layers.Embedding(V, 32)
_, h, c = keras.layers.LSTM(64, return_state=True)(embed(enc_inputs))
dec_seq = keras.layers.LSTM(64, return_sequences=True)(embed(dec_inputs), initial_state=[h, c])
outputs = keras.layers.Dense(10, activation="softmax")(dec_seq)
model = keras.Model([enc_inputs, dec_inputs], outputs)
model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
split = int(0.9 * args.n)
model.fit([src[:split], dec_in[:split]], tgt[:split], epochs=args.epochs, batch_size=64, verbose=2)
print("teacher-forced test accuracy: %.4f" % model.evaluate([src[split:], dec_in[split:]], tgt[split:], verbose=0)[1])
