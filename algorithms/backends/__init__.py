"""Backends: the worlds a method runs in, behind one protocol (:mod:`.protocol`).

- :mod:`.simulated`: the simulated clock (exact, seeded; the reference).
- :mod:`.distributed`: real processes on torch.distributed (``apga launch``); importing
  it imports torch.
"""
