"""Float64 references: norm family (to be filled in)."""
import numpy as np  # noqa: F401
