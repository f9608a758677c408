"""advsim's engine and numbered simulations.

The engine modules — :mod:`sims.data`, :mod:`sims.nets`, :mod:`sims.losses`, :mod:`sims.optim`,
:mod:`sims.train`, :mod:`sims.measure`, :mod:`sims.records`, :mod:`sims.simulation` — serve every
numbered simulation ``sims/NN_name.py``. Importing this package imports nothing heavy; readers of
records (:mod:`sims.records`) never need torch.

Command line: ``python -m sims list`` and ``python -m sims run <number|name|all> [--scale quick|paper]``.
"""

from sims.errors import AdvsimError

__all__ = ["AdvsimError"]
__version__ = "0.1.0"
