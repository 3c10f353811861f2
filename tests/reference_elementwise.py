"""Float64 references: elementwise family (to be filled in)."""
import numpy as np  # noqa: F401
