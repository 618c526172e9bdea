"""What the theory pages show: record status, provenance and figures (presentation only: nothing
here changes a recorded number)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from .. import results
from . import approximation, local_identifiability, parameter_identifiability, runner

__all__ = ["record_status", "provenance_frame", "plot_escape_curves", "plot_escape_histograms",
           "escape_frame", "rank_frame", "plot_rank_vs_n", "plot_bent_hyperplanes", "plot_rates",
           "illustration_frame", "plot_illustration", "figure2_case", "plot_figure2"]


def record_status(record: Mapping, experiment: str, profile: str, ran: bool) -> str:
    """Markdown: where the page's numbers come from, what the profile is, and every run to check
    before trusting it (a configuration that differs from the current profile, or code of this
    wing changed since the run, :func:`qornn.results.code_changed_since`)."""
    how = "run by this execution of the notebook" if ran else "rendered from the committed record"
    cfg = runner.get_config(experiment, profile)
    flags = []
    head = results.head_commit()
    for name, data in sorted(record["runs"].items()):
        expected = {"experiment": experiment, "profile": profile, "run": name, "seed": data["config"]["seed"],
                    **cfg}
        if data["config_hash"] != results.config_hash(expected):
            flags.append(f"- **{name}**: recorded with a configuration that differs from profile "
                         f"`{profile}` as defined now; rerun with `retrain = True`.")
        why = results.code_changed_since(data, head=head)
        if why:
            flags.append(f"- **{name}**: {why}; the numbers could differ if run again today.")
    missing = [n for n in runner.run_names(experiment, profile) if n not in record["runs"]]
    if missing:
        flags.append(f"- not recorded yet: {', '.join(missing)}.")
    check = ("**Check before trusting these numbers:**\n\n" + "\n".join(flags) if flags else
             "Every run matches the current profile and was made from committed code that has not "
             "changed since.")
    seeds = sorted({d["provenance"]["seed"] for d in record["runs"].values()})
    return (f"Results {how}: experiment `{experiment}`, profile `{profile}` ({cfg['note']}), "
            f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}.\n\n{check}")


def provenance_frame(record: Mapping) -> pd.DataFrame:
    """How each run was made: profile, seed, commit, device, torch, wall time, date."""
    rows = []
    for name, data in sorted(record["runs"].items()):
        p = data["provenance"]
        rows.append({"run": name, "profile": p["profile"], "seed": p["seed"],
                     "commit": (p.get("commit") or "unknown")[:10]
                     + (" (modified)" if p.get("dirty") else ""),
                     "device": results.device_label(p.get("device_name")) or p["device"],
                     "torch": p.get("torch"), "wall time (s)": f"{p['wall_time_s']:.1f}",
                     "date": str(p.get("date", ""))[:16].replace("T", " ")})
    return pd.DataFrame(rows)


_KIND_COLORS = {"strict": "tab:red", "non-strict": "tab:blue"}


def plot_escape_curves(record: Mapping, axes) -> None:
    """Figure 3: the loss (mean squared error) of the first run of each kind against the epochs,
    one panel per kind (each run has its own data, so its own level), with its critical value
    L(W_cp) (dotted) and its escape threshold L(W_cp) − λ_3/2 (dashed)."""
    for ax, kind in zip(axes, ("strict", "non-strict"), strict=True):
        data = record["runs"].get(kind)
        if not data or not data["history"]:
            continue
        curve = data["history"][0]
        color = _KIND_COLORS[kind]
        ax.plot(range(len(curve)), curve, color=color, label="loss")
        ax.axhline(data["critical_values"][0], color="black", linestyle=":", linewidth=0.9,
                   label=r"critical value $L(W^{cp})$")
        ax.axhline(data["thresholds"][0], color="black", linestyle="--", linewidth=0.9,
                   label=r"threshold $L(W^{cp}) - \lambda_3/2$")
        escape = data["escape_epoch"][0]
        if escape > 0:
            ax.axvline(escape, color=color, linewidth=0.8, alpha=0.6)
        escaped = f", escapes at epoch {escape})" if escape > 0 else ")"
        ax.set_title(f"near a {kind} saddle (run 0{escaped}")
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    for ax in axes:  # the panels have their own scales: each says what it shows
        ax.set_ylabel("loss (mean squared error)")


def escape_frame(record: Mapping) -> pd.DataFrame:
    """Escape epochs per kind: runs, escaped, quantiles."""
    rows = []
    for kind in ("strict", "non-strict"):
        data = record["runs"].get(kind)
        if not data:
            continue
        e = np.array(data["escape_epoch"])
        done = e[e >= 0]
        q = np.percentile(done, [10, 50, 90]) if len(done) else [np.nan] * 3
        rows.append({"start": f"near a {kind} saddle", "runs": len(e), "escaped": int(len(done)),
                     "epoch cap": data["config"]["epochs"], "10% escaped by": q[0], "median": q[1],
                     "90% escaped by": q[2], "latest": int(done.max()) if len(done) else None})
    return pd.DataFrame(rows)


def plot_escape_histograms(record: Mapping, ax=None, bins: int = 60):
    """Figure 4: histograms of the escape epoch of every run, per kind (log-spaced bins)."""
    ax = ax or plt.gca()
    all_epochs = [e for k in ("strict", "non-strict")
                  for e in record["runs"].get(k, {}).get("escape_epoch", []) if e > 0]
    if not all_epochs:
        ax.text(0.5, 0.5, "no run escaped", transform=ax.transAxes, ha="center")
        return ax
    edges = np.geomspace(1, max(all_epochs) + 1, bins)
    for kind in ("strict", "non-strict"):
        data = record["runs"].get(kind)
        if not data:
            continue
        e = np.array(data["escape_epoch"])
        ax.hist(e[e > 0], bins=edges, alpha=0.6, color=_KIND_COLORS[kind],
                label=f"{kind} ({int((e > 0).sum())} of {len(e)} runs escaped)")
    ax.set_xscale("log")
    ax.set_xlabel("escape epoch")
    ax.set_ylabel("runs")
    ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    return ax


def rank_frame(record: Mapping) -> pd.DataFrame:
    """One row per (architecture, n): R_Γ, R_A, |F_θ| + |B|, the verdict, dead / always-active neurons."""
    rows = []
    for name, data in record["runs"].items():
        for row in data["history"]:
            rows.append({"architecture": name, **row, "|F|+|B|": data["test"]["dimension"],
                         "n·N_L": row["n"] * data["test"]["n_outputs"]})
    return pd.DataFrame(rows)


#: how :func:`plot_rank_vs_n` marks R_Γ at each n by the verdict there: (marker, filled)
VERDICT_MARKERS = {"identifiable": ("o", True), "undetermined": ("o", False), "not identifiable": ("x", True)}


def plot_rank_vs_n(record: Mapping, axes=None):
    """R_Γ (solid) and R_A (dotted) against n, one panel per architecture, with the threshold
    |F_θ| + |B| (dashed) and the bound n·N_L (grey). Each n's R_Γ marker shows the rank tests'
    verdict there (:data:`VERDICT_MARKERS`): filled circle identifiable, hollow circle undetermined,
    cross not identifiable. On the log axis, a verdict that changes close to the threshold (4-8-8-1:
    R_Γ = 104 undetermined, 105 identifiable) is still visible. The first panel's legend covers every
    panel."""
    names = sorted(record["runs"])
    if axes is None:
        _, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.4), squeeze=False)
        axes = axes[0]
    for ax, name in zip(axes, names, strict=False):
        data = record["runs"][name]
        rows = data["history"]
        n = [r["n"] for r in rows]
        ax.plot(n, [r["R_gamma"] for r in rows], "-", color="C0", label=r"$R_\Gamma$")
        for verdict, (marker, filled) in VERDICT_MARKERS.items():
            at = [r for r in rows if r["verdict"] == verdict]
            if at:
                ax.plot([r["n"] for r in at], [r["R_gamma"] for r in at], marker, color="C0", ms=6, mew=1.5,
                        mfc="C0" if filled else "white", linestyle="none", zorder=3,
                        label=f"$R_\\Gamma$: {verdict}")
        ax.plot(n, [r["R_A"] for r in rows], "s:", color="C1", ms=3, label=r"$R_A$")
        ax.plot(n, [x * data["test"]["n_outputs"] for x in n], color="grey", linewidth=0.8, label=r"$n N_L$")
        ax.axhline(data["test"]["dimension"], color="black", linestyle="--", label=r"$|F_\theta| + |B|$")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(1, 2 * max(max(r["R_A"] for r in rows), data["test"]["dimension"]))
        ax.set_title(name)
        ax.set_xlabel("sample size n")
        ax.grid(True, alpha=0.3)
    for ax in axes:
        ax.set_ylabel("rank")
    handles = {}  # every panel's entries, in the order drawn (a verdict may be missing from a panel)
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    order = [r"$R_\Gamma$", *(f"$R_\\Gamma$: {v}" for v in VERDICT_MARKERS)]
    labels = sorted(handles, key=lambda label: order.index(label) if label in order else len(order))
    axes[0].legend([handles[label] for label in labels], labels, fontsize="small")
    return axes


def plot_bent_hyperplanes(net: local_identifiability.ReluNet, ax=None, box: float = 2.0, grid: int = 400,
                          output_label: str = r"$f_\theta(x)$"):
    """The zero sets of every hidden neuron's pre-activation over [−box, box]² (a 2-D input), one
    colour per layer, over the network's output as a grey background, whose scale a colorbar beside
    the axes gives (labelled ``output_label``)."""
    ax = ax or plt.gca()
    t = torch.linspace(-box, box, grid, dtype=torch.float64)
    xx, yy = torch.meshgrid(t, t, indexing="xy")
    X = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
    out = parameter_identifiability.forward(net, X)[:, 0].reshape(grid, grid)
    image = ax.imshow(out.numpy(), extent=(-box, box, -box, box), origin="lower", cmap="Greys", alpha=0.35)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=output_label)
    for layer, pre in enumerate(parameter_identifiability.preactivations(net, X), start=1):
        for v in range(pre.shape[1]):
            ax.contour(xx.numpy(), yy.numpy(), pre[:, v].reshape(grid, grid).numpy(), levels=[0.0],
                       colors=[f"C{layer - 1}"], linewidths=1.6 if layer == 1 else 1.2)
        ax.plot([], [], color=f"C{layer - 1}", label=f"layer {layer}")
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.legend(fontsize="small", loc="upper right")
    return ax


def plot_rates(ax_weights=None, ax_depth=None, *, d: int = 1, alpha: float = 0.5, p: float = 2.0):
    """ε* ≍ (W L log W)^{−1/a} against W for several depths L, and against L for several W,
    for the Hölder ball and monotone functions (constants left out)."""
    W = np.geomspace(10, 1e6, 60)
    families = [("holder", {"d": d, "alpha": alpha}, f"Hölder, d={d}, α={alpha}"),
                ("monotone", {"d": d, "p": p}, f"monotone, d={d}")]
    for fam, kw, label in families:
        style = "-" if fam == "holder" else "--"
        for i, L in enumerate((2, 8, 32)):
            ax_weights.plot(W, [approximation.rate(w, L, fam, **kw) for w in W], style, color=f"C{i}",
                            label=f"{label}, L = {L}")
    ax_weights.set_xscale("log")
    ax_weights.set_yscale("log")
    ax_weights.set_xlabel("number of weights W")
    ax_weights.set_ylabel(r"lower-bound rate $\varepsilon^*$ (no constant)")
    ax_weights.legend(fontsize="x-small")
    ax_weights.grid(True, alpha=0.3)
    depths = np.arange(2, 200)
    for fam, kw, label in families:
        style = "-" if fam == "holder" else "--"
        for i, w in enumerate((1e3, 1e5)):
            ax_depth.plot(depths, [approximation.rate(w, L, fam, **kw) for L in depths], style,
                          color=f"C{i + 3}", label=f"{label}, W = {int(w):,}")
    ax_depth.set_xscale("log")
    ax_depth.set_yscale("log")
    ax_depth.set_xlabel("depth L")
    ax_depth.set_ylabel(r"lower-bound rate $\varepsilon^*$ (no constant)")
    ax_depth.legend(fontsize="x-small")
    ax_depth.grid(True, alpha=0.3)


def illustration_frame(record: Mapping) -> pd.DataFrame:
    rows = [{"target": name, **row} for name, data in record["runs"].items() for row in data["history"]]
    return pd.DataFrame(rows)


def plot_illustration(record: Mapping, axes) -> None:
    """Errors of the trained networks against their number of weights W, per target and depth,
    beside the rate (W L log W)^{−1/a} of the lower bound (its constant unknown: scaled to meet the
    smallest network's L² error)."""
    cfg = None
    for ax, name in zip(axes, ("holder", "monotone"), strict=True):
        data = record["runs"].get(name)
        if not data:
            continue
        cfg = data["config"]
        frame = pd.DataFrame(data["history"])
        for i, (depth, part) in enumerate(frame.groupby("depth")):
            part = part.sort_values("weights")
            ax.plot(part["weights"], part["L1"], "o-", color=f"C{i}", label=f"$L^1$, depth {depth}")
            ax.plot(part["weights"], part["L2"], "s--", color=f"C{i}", alpha=0.7,
                    label=f"$L^2$, depth {depth}")
            ax.plot(part["weights"], part["sup"], "^:", color=f"C{i}", alpha=0.7, label=f"sup, depth {depth}")
        kw = {"d": 1, "alpha": cfg["alpha"]} if name == "holder" else {"d": 1}
        W = np.geomspace(frame["weights"].min(), frame["weights"].max(), 50)
        L0 = int(frame["depth"].min())
        first = frame[frame["depth"] == L0].sort_values("weights").iloc[0]
        scale = first["L2"] / approximation.rate(float(first["weights"]), L0, name, **kw)
        ax.plot(W, [scale * approximation.rate(w, L0, name, **kw) for w in W], color="black", linewidth=0.8,
                label=f"rate shape, depth {L0} (scaled)")
        if name == "monotone":
            ax.axhline(0.5 / cfg["jumps"], color="grey", linestyle="-.", label="half a jump: sup-norm floor")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("number of weights W")
        ax.set_title("Hölder target (tents, α = {:.2g})".format(cfg["alpha"]) if name == "holder" else
                     f"monotone staircase ({cfg['jumps']} steps)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="x-small", ncol=2)
    for ax in axes:
        ax.set_ylabel("error")


def figure2_case(sample: str, *, n: int = 40, seed: int = 0) -> dict[str, Any]:
    """The smallest case where Σ₁* is a proper manifold, for Figure 2: N = (1, 1, 2), the hidden
    neuron's outgoing edge to output 1 fixed (|v_1| ≥ |v_2|). Lifted coordinates, per output k:
    (w v_k, b v_k, c_k); Σ₁* = {p_1 p_5 = p_2 p_4} in the coordinates p = (w v_1, b v_1, c_1,
    w v_2, b v_2, c_2). On the slice p_1 = w v_1 (fixed by the kernel below), we draw
    (p_2, p_4, p_5) where Σ₁* is the surface p_5 = p_2 p_4 / p_1.

    ``sample``: "mixed" (the neuron is active at some points, inactive at others: Ker A = {0}, the
    affine space N(X, θ) is the point φ(θ)), or "active" (active at every point: α's columns 1 and
    1[active] coincide, Ker A holds (p_2, c_1) ↦ (p_2 + t, c_1 − t) and (p_5, c_2) ↦ (p_5 + s, c_2 − s),
    and N(X, θ) meets Σ₁* along a curve: not identifiable)."""
    w, b, v1, v2, c1, c2 = 1.0, 0.2, 1.2, 0.7, 0.1, -0.3
    net = [(torch.tensor([[w]], dtype=torch.float64), torch.tensor([b], dtype=torch.float64)),
           (torch.tensor([[v1], [v2]], dtype=torch.float64), torch.tensor([c1, c2], dtype=torch.float64))]
    gen = torch.Generator().manual_seed(seed)
    X = (torch.rand(n, 1, generator=gen, dtype=torch.float64) * 2 - 1) if sample == "mixed" \
        else torch.rand(n, 1, generator=gen, dtype=torch.float64) + 0.1
    alpha = local_identifiability.alpha(net, X)
    A = torch.kron(alpha, torch.eye(2, dtype=torch.float64))       # α ⊗ I_2, columns (path, output)
    kernel = torch.linalg.svd(A).Vh[int(torch.linalg.matrix_rank(A)):]
    phi = local_identifiability.lifting(net)                      # 3 × 2, (path, output)
    check = local_identifiability.check(net, X)
    return {"net": net, "X": X, "phi": phi, "kernel": kernel, "check": check}


def plot_figure2(case: dict[str, Any], ax) -> None:
    """The slice of Σ₁* (surface), φ(θ) (black dot) and N(X, θ) = φ(θ) + Ker A(X, θ) in the same
    coordinates (p_2, p_4, p_5) = (b v_1, w v_2, b v_2): a point, or a plane meeting Σ₁* on a curve."""
    phi = case["phi"]
    p1 = float(phi[0, 0])
    p2, p4, p5 = float(phi[1, 0]), float(phi[0, 1]), float(phi[1, 1])
    s = np.linspace(-1, 1, 30)
    u, v = np.meshgrid(p2 + s, p4 + s)
    ax.plot_surface(u, v, u * v / p1, alpha=0.35, color="tab:blue", linewidth=0)
    ax.scatter([p2], [p4], [p5], color="black", s=30, depthshade=False)
    kernel = case["kernel"]  # rows: vectors in the (path, output) order of A's columns
    # coordinates of the slice in that order: p_2 = (path 1, out 0) -> 2, p_4 = (path 0, out 1) -> 1,
    # p_5 = (path 1, out 1) -> 3
    idx = [2, 1, 3]
    if kernel.shape[0]:
        dirs = kernel[:, idx]
        ts = np.linspace(-1, 1, 15)
        grid = np.array([[p2, p4, p5] + a * dirs[0].numpy() + (b * dirs[1].numpy() if len(dirs) > 1 else 0)
                         for a in ts for b in ts]).reshape(len(ts), len(ts), 3)
        ax.plot_surface(grid[..., 0], grid[..., 1], grid[..., 2], alpha=0.35, color="tab:orange", linewidth=0)
        line = np.array([[p2 + t, p4, (p2 + t) * p4 / p1] for t in np.linspace(-1, 1, 50)])
        ax.plot(line[:, 0], line[:, 1], line[:, 2], color="tab:red", linewidth=2.5)
    ax.set_xlabel("$p_2 = b v_1$")
    ax.set_ylabel("$p_4 = w v_2$")
    ax.set_zlabel("$p_5 = b v_2$")
    c = case["check"]
    ax.set_title(f"{'neuron active on every sample' if kernel.shape[0] else 'sample on both sides'}: "
                 f"{c.verdict}\n($R_\\Gamma$ = {c.R_gamma}, $R_A$ = {c.R_A}, |F|+|B| = {c.dimension})",
                 fontsize="small")
