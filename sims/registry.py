"""Discovery of the numbered simulations ``sims/NN_name.py`` (each defines ``SIM``).

It imports :mod:`sims.simulation`, never the reverse: a Dask worker rebuilds a simulation from its
module's name (:func:`sims.simulation.load_simulation`), so a user's own simulation, defined outside
``sims/``, runs on workers too."""

from __future__ import annotations

import re
from pathlib import Path

from sims.errors import AdvsimError
from sims.simulation import Simulation, load_simulation

__all__ = ["all_simulations", "find_simulation", "simulation_ids"]

_PATTERN = re.compile(r"^(\d\d)_([a-z0-9_]+)\.py$")


def simulation_ids() -> list[str]:
    """``NN_name`` of every numbered simulation module, in reading order (no import)."""
    here = Path(__file__).parent
    return sorted(p.stem for p in here.iterdir() if _PATTERN.match(p.name))


def _load(sim_id: str) -> Simulation:
    return load_simulation(f"sims.{sim_id}")


def all_simulations() -> list[Simulation]:
    """Every numbered simulation, in reading order."""
    return [_load(s) for s in simulation_ids()]


def find_simulation(which: str) -> Simulation:
    """A simulation by number (``"01"`` or ``"1"``), name (``"frozen_weights"``) or id (``"01_frozen_weights"``)."""
    ids = simulation_ids()
    w = which.strip()
    for sid in ids:
        number, name = sid.split("_", 1)
        if w in (sid, name, number) or (w.isdigit() and int(w) == int(number)):
            return _load(sid)
    raise AdvsimError(
        f"simulation must be 'all' or one of {', '.join(ids)} (by number or name); got {which!r}"
    )
