"""Float64 references: rnn family (to be filled in)."""
import numpy as np  # noqa: F401
