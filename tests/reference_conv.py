"""Float64 references: conv family (to be filled in)."""
import numpy as np  # noqa: F401
