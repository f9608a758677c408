"""The registry of paper claims, each checked against records with a negative control.

``python -m paper_checks`` evaluates them all; see :mod:`paper_checks.claims` for the verdict rules.
"""

from paper_checks.claims import Claim, ClaimResult, Comparison, Control, evaluate

__all__ = ["Claim", "ClaimResult", "Comparison", "Control", "evaluate"]
