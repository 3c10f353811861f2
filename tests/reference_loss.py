"""Float64 references: loss family (to be filled in)."""
import numpy as np  # noqa: F401
