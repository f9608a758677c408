"""The README's examples run as they stand (issue 18), and ``import sims`` is the public, light surface."""

from __future__ import annotations

import ast
import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks(section: str) -> list[str]:
    """The ```python blocks of one ``## section`` of the README (run with ``dont_inherit=True``: this
    module's ``from __future__ import annotations`` must not leak into them)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    assert match, f"README has no section {section!r}"
    return re.findall(r"^```python\n(.*?)^```", match.group(1), flags=re.S | re.M)


def test_readme_api_example_runs() -> None:
    (block,) = _python_blocks("Use it from Python")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec", dont_inherit=True), {"__name__": "__readme__"})
    lines = out.getvalue().splitlines()
    assert any(line.startswith("|P⊥W| / |P⊥W0|: [1. 1.") for line in lines), lines


def test_import_sims_is_light_and_exports_the_surface() -> None:
    """``import sims`` loads no torch; every name of ``sims.__all__`` resolves, to the object its module
    defines (``sims.train`` is the function, the module is ``sims.training``)."""
    code = (
        "import sys, sims; assert 'torch' not in sys.modules, 'import sims loaded torch'; "
        "import sims.training, sims.attacks, sims.threat; "
        "assert sims.train is sims.training.train and sims.PGD is sims.attacks.PGD; "
        "assert sims.L2Ball is sims.threat.L2Ball; "
        "missing = [n for n in sims.__all__ if getattr(sims, n, None) is None]; assert not missing, missing"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_unknown_name_is_an_attribute_error() -> None:
    import sims

    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        sims.nothing_here  # noqa: B018


def test_no_import_cycle_between_registry_and_simulation() -> None:
    """``sims.registry`` imports ``sims.simulation``; nothing imports ``sims.registry`` back except the
    command line (issue 18): simulation rebuilds a simulation on a worker from its module's name."""

    def imports(path: Path) -> set[str]:
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
        return names

    assert "sims.simulation" in imports(ROOT / "sims" / "registry.py")
    importers = sorted(
        p.name for p in (ROOT / "sims").glob("*.py") if "sims.registry" in imports(p)
    )
    assert importers == ["__init__.py", "cli.py"], importers


def test_readme_add_your_own_claim_runs_and_its_control_flips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (block,) = _python_blocks("Add your own claim")
    monkeypatch.chdir(tmp_path)  # the example writes its records under ./my-results
    namespace: dict[str, object] = {"__name__": "__readme_claim__"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(block, "README.md", "exec", dont_inherit=True), namespace)
    result = namespace["result"]
    from paper_checks.claims import ClaimResult

    assert isinstance(result, ClaimResult)
    assert result.verdict == "holds", result.note
    assert result.main.ci is not None and result.main.ci[1] < 0.01
    ((control, cmp),) = result.controls
    assert control.name == "off the subspace" and cmp.status == "fails"
    assert result.validity[0][0], result.validity  # the control trained: a valid control
    assert (tmp_path / "my-results" / "90_my_offsubspace").is_dir()


def test_a_simulation_crosses_to_workers_by_its_module_name() -> None:
    """Dask workers rebuild a simulation by importing its module (``module_of`` / ``load_simulation``):
    a numbered one round-trips; one defined outside any module is refused before a cluster starts."""
    from sims.errors import AdvsimError
    from sims.registry import find_simulation
    from sims.simulation import RunOutput, Simulation, load_simulation, module_of

    sim = find_simulation("01")
    assert module_of(sim) == "sims.01_frozen_weights"
    assert load_simulation(module_of(sim)) is sim
    loose = Simulation(
        number="91",
        name="loose",
        title="t",
        paper="p",
        configs=lambda scale: [],
        run=lambda cfg, ctx: RunOutput({}, {}),
    )
    with pytest.raises(AdvsimError, match="must be defined as SIM in an importable module"):
        module_of(loose)
    with pytest.raises(AdvsimError, match="does not define SIM"):
        load_simulation("sims.errors")
