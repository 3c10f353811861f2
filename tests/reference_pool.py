"""Float64 references: pool family (to be filled in)."""
import numpy as np  # noqa: F401
