"""Shared test configuration: hypothesis profiles and small fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

from tests.pinned import QuickRuns

settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    max_examples=40,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=40)
settings.register_profile("thorough", deadline=None, max_examples=400)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


@pytest.fixture(scope="session")
def quick(tmp_path_factory: pytest.TempPathFactory) -> QuickRuns:
    """Quick-scale records shared by every test of the session: ``quick("03", "05")`` runs those
    simulations (at most once per session) and returns the folder. ``ADVSIM_RESULTS=DIR`` uses the
    quick records in ``DIR`` (e.g. the main job's ``results``) instead of a temporary folder."""
    env = os.environ.get("ADVSIM_RESULTS")
    root = Path(env) if env else tmp_path_factory.mktemp("quick-results")
    return QuickRuns(root)
