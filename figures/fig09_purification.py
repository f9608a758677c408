"""Figure 09 — adversarial training purifies the neurons (simulation 09; the paper's Figures 5 and 6).

(a, b) 16 neurons of member 0 in the dictionary basis, ``|Mᵀw_i|`` as a heat map, clean-trained and after
PGD-AT (ℓ∞, ``ε = k^{-3/2}``), neurons sorted by their pure atom. (c) ``|cos(w_i, w_i')|`` per neuron for
every continued training, with the principle's ``1/√2``, and for the control (PGD-AT from the
initialisation, its radius ramped up, against the clean-trained weights from that initialisation).
(d) Share of ``‖Mᵀδ‖²`` on ``supp(z)`` of ℓ2 PGD perturbations against their radius, clean vs after
each training (median over points).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.registry import FigureSpec
from figures.style import new_figure, save
from sims.measure import abs_cosine
from sims.records import load_records
from theory import purification as th

SIM = "09_purification"
N_SHOWN = 16


def make(results: Path, out: Path) -> list[Path]:
    """Draw figure 09."""
    runs = {r.config["condition"]: r for r in load_records(results, SIM)}
    fig, axes = new_figure(4, width=4.2)
    main = runs.get("sparse-pgd_linf")
    if main is not None:
        a = main.arrays()
        C0 = np.abs(a["W_clean"][0] @ a["dictionary"])
        C1 = np.abs(a["at_W"][0] @ a["dictionary"])
        idx = np.argsort(C0.argmax(1), kind="stable")[:: max(1, len(C0) // N_SHOWN)][:N_SHOWN]
        atoms = sorted(set(C0[idx].argmax(1)) | set(C1[idx].argmax(1)))
        cols = atoms + [j for j in range(C0.shape[1]) if j not in atoms][: 24 - len(atoms)]
        for ax, C, title in ((axes[0], C0, "(a) clean"), (axes[1], C1, "(b) after PGD-AT")):
            M = C[idx][:, cols] / C[idx].max(1, keepdims=True)
            ax.imshow(M, cmap="magma", vmin=0, vmax=1, aspect="auto")
            ax.set(xlabel="atom (pure atoms first)", ylabel="neuron", title=title)
            ax.grid(False)
    for name, r in sorted(runs.items()):
        if not name.startswith("sparse-"):
            continue
        a = r.arrays()
        cos = np.sort(a["at_cos_clean"].ravel())
        axes[2].plot(np.linspace(0, 1, len(cos)), cos, label=name.removeprefix("sparse-"))
        radii = sorted(
            float(k[len("at_delta") : -len("_share")])
            for k in a
            if k.startswith("at_delta") and k.endswith("_share")
        )
        share = [np.nanmedian(a[f"at_delta{e:g}_share"]) for e in radii]
        axes[3].plot(radii, share, marker="o", label=f"after {name.removeprefix('sparse-')}")
        if name == "sparse-none":
            clean = [np.nanmedian(a[f"clean_delta{e:g}_share"]) for e in radii]
            axes[3].plot(radii, clean, "k--", marker="x", label="clean")
    control = runs.get("from_init-pgd_linf")
    if control is not None:  # AT from the initialisation, against the clean-trained weights from it
        a = control.arrays()
        cos = np.sort(abs_cosine(a["W_reference"], a["at_W"]).ravel())
        axes[2].plot(np.linspace(0, 1, len(cos)), cos, "k--", label="from init (control)")
    axes[2].axhline(th.PRINCIPLE_COSINE, color="0.3", ls=":", label=r"$1/\sqrt{2}$")
    axes[2].set(xlabel="neuron quantile", ylabel=r"$|\cos(w_i, w_i')|$", title="(c) principle")
    axes[2].legend(fontsize=7)
    axes[3].axhline(0.5, color="0.3", ls=":")
    axes[3].set(
        xscale="log",
        xlabel=r"$\ell_2$ radius $\varepsilon$",
        ylabel=r"share of $\|M^\top\delta\|^2$ on supp$(z)$",
        title="(d) perturbations",
    )
    axes[3].legend(fontsize=6)
    return save(fig, out, "fig09_purification")


FIGURE = FigureSpec(
    stem="fig09_purification",
    sims=(SIM,),
    caption="Adversarial training continued from clean weights removes the dense mixtures and "
    "makes attacks pure.",
    make=make,
)
