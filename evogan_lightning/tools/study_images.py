"""The report of an image study (``evogan-study data=fashion_mnist,stacked_fashion_mnist``).

- ``results.md`` / ``results.json``: per data set one table of the image protocol (``metrics.image_protocol``)
  as mean +- std over seeds, at equal generations, with two reference rows: the floor (10,000 real training
  images scored as if generated) and the ceiling (an untrained generator of the preset); then one table at
  equal wall-clock: every algorithm's classifier-FID curve read at the same training time.
- ``samples.png``: a sample grid of every algorithm (rows) on every data set (columns), first seed.
- ``fid_vs_time.png``: classifier-FID of the curve over training seconds, mean over seeds, one line per
  algorithm, one panel per data set.

Training seconds leave out the evaluations (``val/eval_seconds``), so curves and gen/s compare training cost.
With ``timing=true`` (``costs.json``: ms/generation of each algorithm measured alone, ``study.measure_costs``)
every wall-clock is generations x that cost instead of the run's own clock, which shares the machine with the
study's other job and anything else running.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .study import ImageSetup, Run, mean_std, panel_figure

PROTOCOL_COLUMNS = (  # metric, header, scale, digits
    ("test/classifier_fid", "classifier-FID", 1.0, 1),
    ("test/classifier_kid", "KID", 1.0, 2),
    ("test/class_tvd", "class TVD", 1.0, 3),
    ("test/precision", "precision", 1.0, 2),
    ("test/recall", "recall", 1.0, 2),
    ("test/density", "density", 1.0, 2),
    ("test/coverage", "coverage", 1.0, 2),
)
STACKED_COLUMNS = (
    ("test/modes_covered", "modes (of 1000)", 1.0, 0),
    ("test/mode_kl", "mode KL", 1.0, 2),
)
CURVE_KEY = "val/classifier_fid"


Costs = dict[str, dict[str, float]]  # algo -> data -> ms per generation (costs.json)


def _cost(run: Run, costs: Costs | None) -> float | None:
    ms = (costs or {}).get(run.algo, {}).get(run.data)
    return float(ms) / 1000.0 if ms else None


# ------------------------------------------------------------------------------------------ per run
def train_seconds(run: Run, costs: Costs | None = None) -> float:
    """Training time of a finished run without its evaluations (generations x the measured cost when known)."""
    m = run.metrics
    per = _cost(run, costs)
    if per is not None:
        return float(m.get("generation", math.nan)) * per
    return float(m.get("train_seconds", math.nan)) - float(m.get("val/eval_seconds", 0.0) or 0.0)


def curve(run: Run, costs: Costs | None = None) -> list[tuple[float, float, float]]:
    """``(train seconds, generation, classifier-FID)`` of every curve point of a run (logs/metrics.csv); the
    seconds are generation x the measured cost when ``costs`` has the run's algorithm and data."""
    path = run.dir / "logs" / "metrics.csv"
    if not path.is_file():
        return []
    points = []
    with open(path) as f:
        for row in csv.DictReader(f):
            if row.get(CURVE_KEY) and row.get("val/train_seconds"):
                points.append(
                    (float(row["val/train_seconds"]), float(row["generation"]), float(row[CURVE_KEY]))
                )
    return sorted(points)


def value_at(points: Sequence[tuple[float, float, float]], seconds: float) -> tuple[float, float, bool]:
    """``(FID, generation, reached)`` of a curve at ``seconds`` of training, linearly interpolated between
    evaluations; a run that ended earlier gives its last point and ``reached=False``."""
    if not points:
        return math.nan, math.nan, False
    if seconds >= points[-1][0]:
        return (
            points[-1][2],
            points[-1][1],
            seconds <= points[-1][0] * 1.05,
        )  # timing noise of a same-length run
    if seconds <= points[0][0]:
        return points[0][2], points[0][1], True
    for (t0, g0, f0), (t1, g1, f1) in zip(points, points[1:]):
        if t0 <= seconds <= t1:
            w = (seconds - t0) / (t1 - t0) if t1 > t0 else 1.0
            return f0 + w * (f1 - f0), g0 + w * (g1 - g0), True
    return points[-1][2], points[-1][1], True


# ------------------------------------------------------------------------------------------ references
def references(data: str, setup: ImageSetup, preset: str, out: Path) -> dict[str, dict[str, float]]:
    """Floor (real training images) and ceiling (untrained generator of the preset, seed 0) of ``data``,
    cached in ``out/references.json`` under the protocol string."""
    from ..metrics.image_protocol import ImageProtocol

    data_cfg = _data_cfg(data, setup, preset)
    protocol = ImageProtocol(setup.classifier, data_cfg, num_samples=setup.protocol_samples)
    cache_path = out / "references.json"
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    key = f"{data}|{preset}|{protocol.protocol()}"
    if key not in cache:
        print(f"scoring the floor and ceiling of {data} ...", flush=True)
        cache[key] = {
            "floor": protocol.score_real("train"),
            "ceiling": protocol.score_module(_untrained(data, setup, preset)),
        }
        cache_path.write_text(json.dumps(cache, indent=2))
    return cache[key]


def _config(data: str, setup: ImageSetup, preset: str) -> dict[str, Any]:
    from omegaconf import OmegaConf

    from ..run.config import compose

    cfg = compose(
        [
            f"experiment={preset}",
            "algo=gan",
            f"data={data}",
            f"data.root={setup.root}",
            "seed=0",
            "output_dir=.",
        ]
    )
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def _data_cfg(data: str, setup: ImageSetup, preset: str) -> dict[str, Any]:
    return _config(data, setup, preset)["data"]


def _untrained(data: str, setup: ImageSetup, preset: str) -> Any:
    import torch

    from ..data.datamodule import GANDataModule
    from ..run.train import build_module

    plain = _config(data, setup, preset)
    torch.manual_seed(0)
    return build_module(plain, GANDataModule(plain["data"]).info()).eval()


# ------------------------------------------------------------------------------------------ tables
def aggregate_images(runs: Sequence[Run], costs: Costs | None = None) -> list[dict[str, Any]]:
    """One row per (algorithm, data set): mean and std over the finished seeds of every protocol metric,
    generations, generations/s and training seconds."""
    rows = []
    for algo, data in dict.fromkeys((r.algo, r.data) for r in runs):
        group = [r for r in runs if (r.algo, r.data) == (algo, data)]
        ok = [r for r in group if r.done]
        row: dict[str, Any] = {"algo": algo, "data": data, "seeds": len(ok), "missing": len(group) - len(ok)}
        for key, *_ in (*PROTOCOL_COLUMNS, *STACKED_COLUMNS):
            row[key], row[key + "_std"] = mean_std([r.metrics.get(key) for r in ok])
        seconds = [train_seconds(r, costs) for r in ok]
        row["generations"] = ok[0].metrics.get("generation") if ok else None
        row["generations_per_s"], _ = mean_std(
            [float(r.metrics["generation"]) / s for r, s in zip(ok, seconds) if s > 0]
        )
        row["train_seconds"], _ = mean_std(seconds)
        rows.append(row)
    return rows


def _cell(row: dict[str, Any], key: str, scale: float, digits: int) -> str:
    mean, std = row.get(key, math.nan), row.get(key + "_std", math.nan)
    if mean is None or not math.isfinite(mean):
        return "-"
    if std is None or not math.isfinite(std):
        return f"{scale * mean:.{digits}f}"
    return f"{scale * mean:.{digits}f} +- {scale * std:.{digits}f}"


def protocol_table(data: str, rows: Sequence[dict[str, Any]], refs: dict[str, dict[str, float]]) -> str:
    """Markdown table of one data set at equal generations, floor and ceiling first."""
    columns = PROTOCOL_COLUMNS + (STACKED_COLUMNS if data == "stacked_fashion_mnist" else ())
    head = (
        "| algorithm | "
        + " | ".join(c[1] for c in columns)
        + " | generations | gen/s | train (s) | seeds |\n"
    )
    head += "|---" * (len(columns) + 5) + "|\n"
    lines = []
    for label, ref in (
        ("floor: real train images", refs.get("floor")),
        ("ceiling: untrained G", refs.get("ceiling")),
    ):
        if ref:
            cells = " | ".join(_cell(ref, key, scale, digits) for key, _, scale, digits in columns)
            lines.append(f"| *{label}* | {cells} | - | - | - | - |")
    for r in rows:
        if r["data"] != data:
            continue
        if not r["seeds"]:
            lines.append(
                f"| {r['algo']} | "
                + " | ".join("-" for _ in columns)
                + f" | - | - | - | 0 of {r['missing']} |"
            )
            continue
        cells = " | ".join(_cell(r, key, scale, digits) for key, _, scale, digits in columns)
        seeds = f"{r['seeds']}" + (f" of {r['seeds'] + r['missing']}" if r["missing"] else "")
        lines.append(
            f"| {r['algo']} | {cells} | {r['generations']:.0f} | {r['generations_per_s']:.1f} | "
            f"{r['train_seconds']:.0f} | {seeds} |"
        )
    return head + "\n".join(lines) + "\n"


def wall_clock_budget(runs: Sequence[Run], data: str, costs: Costs | None = None) -> float:
    """The equal-wall-clock budget of ``data``: the mean training time of the ``cegan`` runs at their last
    curve point (one CE-GAN run with the preset), else of the slowest algorithm."""
    by_algo: dict[str, list[float]] = {}
    for r in runs:
        points = curve(r, costs) if r.data == data and r.done else []
        if points:
            by_algo.setdefault(r.algo, []).append(points[-1][0])
    if not by_algo:
        return math.nan
    if "cegan" in by_algo:
        return mean_std(by_algo["cegan"])[0]
    return max(mean_std(v)[0] for v in by_algo.values())


def wall_clock_rows(
    runs: Sequence[Run], data: str, budget: float, costs: Costs | None = None
) -> list[dict[str, Any]]:
    """Per algorithm: classifier-FID of the curve at ``budget`` seconds (mean +- std over seeds), the
    generations reached then, and how many runs ended before the budget."""
    rows = []
    for algo in dict.fromkeys(r.algo for r in runs if r.data == data):
        values = [
            value_at(curve(r, costs), budget) for r in runs if (r.algo, r.data) == (algo, data) and r.done
        ]
        values = [v for v in values if math.isfinite(v[0])]
        if not values:
            continue
        fid, fid_std = mean_std([v[0] for v in values])
        gens, _ = mean_std([v[1] for v in values])
        rows.append(
            {
                "algo": algo,
                "fid": fid,
                "fid_std": fid_std,
                "generation": gens,
                "ended_early": sum(not v[2] for v in values),
                "seeds": len(values),
            }
        )
    return rows


def wall_clock_table(rows: Sequence[dict[str, Any]], budget: float, curve_samples: int) -> str:
    head = (
        f"| algorithm | classifier-FID at {budget:.0f} s ({curve_samples} samples, train split) | generation reached | seeds |\n"
        "|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        note = (
            f" (run ended before the budget on {r['ended_early']} seeds: its last value)"
            if r["ended_early"]
            else ""
        )
        lines.append(
            f"| {r['algo']} | {r['fid']:.1f} +- {r['fid_std']:.1f}{note} | {r['generation']:.0f} | {r['seeds']} |"
        )
    return head + "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------ figures
def samples_figure(runs: Sequence[Run], path: Path, grid: int = 8) -> None:
    """A ``grid x grid`` sample grid of every algorithm (rows) on every data set (columns), first finished seed,
    fixed noise; each panel is titled with that run's classifier-FID."""
    import torch
    from torchvision.utils import make_grid

    from .cli_common import load_module

    def draw(ax: Any, data: str, run: Run | None) -> None:
        if run is None:
            return
        module = load_module(run.dir / "checkpoints" / "last.ckpt")
        x = module.sample(grid * grid, generator=torch.Generator().manual_seed(1))
        image = make_grid((x + 1) / 2, nrow=grid, padding=1, pad_value=1.0).clamp(0, 1)
        ax.imshow(image.permute(1, 2, 0).numpy())
        title = f"FID {run.metrics.get('test/classifier_fid', math.nan):.1f}"
        if "test/modes_covered" in run.metrics:
            title += f", {run.metrics['test/modes_covered']:.0f} modes"
        ax.set_title(f"{title} (seed {run.seed})", fontsize=7)

    panel_figure(runs, path, draw, rows_are_algos=True, panel=(2.6, 2.8))


def curves_figure(
    runs: Sequence[Run], path: Path, budgets: dict[str, float], costs: Costs | None = None
) -> None:
    """Classifier-FID over training seconds, mean over seeds (each seed's curve interpolated on a common
    time grid up to the shortest seed's end), one line per algorithm, one panel per data set; a dotted
    vertical line marks the equal-wall-clock budget."""
    import matplotlib.pyplot as plt
    import numpy as np

    datas = list(dict.fromkeys(r.data for r in runs))
    fig, axes = plt.subplots(1, len(datas), figsize=(5.5 * len(datas), 4.2), squeeze=False)
    for ax, data in zip(axes[0], datas):
        for k, algo in enumerate(dict.fromkeys(r.algo for r in runs if r.data == data)):
            curves = [curve(r, costs) for r in runs if (r.algo, r.data) == (algo, data) and r.done]
            curves = [c for c in curves if len(c) >= 2]
            if not curves:
                continue
            end = min(c[-1][0] for c in curves)
            grid = np.linspace(min(c[0][0] for c in curves), end, 60)
            ys = np.array([np.interp(grid, [p[0] for p in c], [p[2] for p in c]) for c in curves])
            # ten colours, then the same colours dashed: every line of a study with many variants stays apart
            style = ("-", "--", "-.")[k // 10 % 3]
            ax.plot(
                grid, ys.mean(axis=0), color=f"C{k % 10}", linestyle=style, label=f"{algo} ({len(curves)})"
            )
        if math.isfinite(budgets.get(data, math.nan)):
            ax.axvline(budgets[data], color="gray", linestyle=":", linewidth=1)
        ax.set_yscale("log")
        ax.set_xlabel("training seconds (one CPU thread" + (", measured alone)" if costs else ")"))
        ax.set_ylabel("classifier-FID (train split, curve samples)")
        ax.set_title(data)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report_images(runs: Sequence[Run], out: Path, header: str, setup: ImageSetup, preset: str) -> str:
    """Write results.md / results.json, samples.png and fid_vs_time.png into ``out``; return the tables."""
    for r in runs:
        r.load()
    out.mkdir(parents=True, exist_ok=True)
    costs_path = out / "costs.json"
    costs = json.loads(costs_path.read_text()) if costs_path.is_file() else None
    rows = aggregate_images(runs, costs)
    datas = list(dict.fromkeys(r.data for r in runs))
    sections, refs, budgets, clock = [], {}, {}, {}
    for data in datas:
        refs[data] = references(data, setup, preset, out)
        budgets[data] = wall_clock_budget(runs, data, costs)
        sections.append(
            f"### {data}, equal generations (protocol: 10,000 samples vs the 10,000 test images)\n"
        )
        sections.append(protocol_table(data, rows, refs[data]))
        if math.isfinite(budgets[data]):
            clock[data] = wall_clock_rows(runs, data, budgets[data], costs)
            how = (
                "generations x ms/generation measured alone (costs.json)" if costs else "each run's own clock"
            )
            sections.append(
                f"### {data}, equal wall-clock (the mean training time of one cegan run; {how})\n"
            )
            sections.append(wall_clock_table(clock[data], budgets[data], setup.curve_samples))
    tables = "\n".join(sections)
    (out / "results.md").write_text(header + "\n\n" + tables)
    (out / "results.json").write_text(
        json.dumps(
            {
                "rows": rows,
                "references": refs,
                "wall_clock": {"budget_seconds": budgets, "rows": clock, "costs_ms_per_generation": costs},
                "runs": [
                    {"algo": r.algo, "data": r.data, "seed": r.seed, "dir": str(r.dir), **r.metrics}
                    for r in runs
                    if r.done
                ],
            },
            indent=2,
            default=str,
        )
    )
    if any(r.done for r in runs):
        samples_figure(runs, out / "samples.png")
        curves_figure(runs, out / "fid_vs_time.png", budgets, costs)
    return tables
