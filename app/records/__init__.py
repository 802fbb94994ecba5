"""Records: episodes of care, their administrations (recorded, corrected, withdrawn), the
evaluation of their series into rupture flags, and reading the alliance over time."""
