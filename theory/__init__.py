"""What the papers predict: closed-form values, scalings and theorem conditions (numpy/scipy only).

Nothing here trains a network. Simulations record measurements; ``paper_checks`` and ``figures`` hold
them against these predictions.
"""

from theory import subspace

__all__ = ["subspace"]
