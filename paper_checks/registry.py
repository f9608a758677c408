"""All registered claims, in reading order."""

from __future__ import annotations

from paper_checks.bat import CLAIMS as BAT_CLAIMS
from paper_checks.claims import Claim
from paper_checks.fast_at import CLAIMS as FAST_CLAIMS
from paper_checks.purification import CLAIMS as PURIFICATION_CLAIMS
from paper_checks.real_data import CLAIMS as REAL_DATA_CLAIMS
from paper_checks.subspace import CLAIMS as SUBSPACE_CLAIMS

__all__ = ["CLAIMS"]

CLAIMS: tuple[Claim, ...] = (
    *SUBSPACE_CLAIMS,
    *PURIFICATION_CLAIMS,
    *FAST_CLAIMS,
    *BAT_CLAIMS,
    *REAL_DATA_CLAIMS,
)

_ids = [c.id for c in CLAIMS]
if len(set(_ids)) != len(_ids):
    raise RuntimeError(f"duplicate claim ids: {_ids}")
