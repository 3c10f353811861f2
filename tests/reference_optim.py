"""Float64 references: optim family (to be filled in)."""
import numpy as np  # noqa: F401
