"""``evogan-summarize MULTIRUN_DIR [metric=val/fid] [lower_is_better=auto]``

Collects every job of a sweep (each folder below ``MULTIRUN_DIR`` holding a ``metrics.json``): its
overrides from ``.hydra/overrides.yaml`` and its metrics, into one table (``summary.md`` and
``summary.csv`` in that folder, printed too) and a plot of the main metric per setting (``summary.png``;
jobs that differ only in ``seed`` form one setting: mean and standard deviation over seeds).
Main metric: ``val/fid`` if present, else ``val/classifier_fid``, else ``toy/modes_covered``, else
``toy/high_quality_share``, else ``loss/g`` (override with ``metric=``). ``eval.json`` files written by
``evogan-evaluate`` next to a job's checkpoint are merged in as well.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..callbacks.figures import wrap_title
from ..core.errors import ConfigError

MAIN_METRICS = ("val/fid", "val/classifier_fid", "toy/modes_covered", "toy/high_quality_share", "loss/g")
LOWER_IS_BETTER = ("fid", "kid", "mode_kl", "loss/")
SHOWN_METRICS = (
    "val/fid",
    "val/is_mean",
    "val/kid",
    "val/classifier_fid",
    "val/classifier_kid",
    "toy/modes_covered",
    "toy/high_quality_share",
    "toy/mode_kl",
    "loss/g",
    "loss/d",
    "generation",
    "train_seconds",
)
USAGE = "usage: evogan-summarize MULTIRUN_DIR [metric=NAME] [out_dir=DIR]"


def read_overrides(job_dir: Path) -> dict[str, str]:
    """``{key: value}`` of a job's Hydra overrides (``.hydra/overrides.yaml``; empty if absent)."""
    path = job_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {}
    from omegaconf import OmegaConf

    out: dict[str, str] = {}
    for item in OmegaConf.load(path):
        key, _, value = str(item).partition("=")
        key = key.lstrip("+~")
        if key.startswith("hydra.") or key in ("output_dir", "ckpt_path"):
            continue
        out[key] = value
    return out


def collect_failures(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """The jobs below ``sweep_dir`` that were refused or diverged (their ``failed.json``), by job name."""
    root = Path(sweep_dir)
    failed = []
    for path in sorted(root.rglob("failed.json")):
        if (path.parent / "metrics.json").is_file():
            continue  # failed once, then finished (a rerun into the folder)
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            record = {"kind": "error", "error": f"unreadable {path}"}
        failed.append({"job": str(path.parent.relative_to(root)), "dir": path.parent, **record})
    return failed


def collect_runs(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """One record per job below ``sweep_dir``: ``{"job", "dir", "overrides", "metrics"}``, by job name."""
    root = Path(sweep_dir)
    if not root.is_dir():
        raise ConfigError(f"{root} is not a directory; pass the sweep folder (hydra.sweep.dir) of a multirun")
    runs = []
    for metrics_path in sorted(root.rglob("metrics.json")):
        job = metrics_path.parent
        try:
            metrics = json.loads(metrics_path.read_text())
        except ValueError as err:
            raise ConfigError(
                f"{metrics_path} is not valid JSON ({err}); the job was cut off while writing it - delete the "
                "file (or rerun that job) and summarize again"
            ) from err
        for extra in sorted(job.glob("checkpoints/eval.json")):
            metrics.update({k: v for k, v in json.loads(extra.read_text()).items() if k not in metrics})
        runs.append(
            {
                "job": str(job.relative_to(root)) if job != root else job.name,
                "dir": job,
                "overrides": read_overrides(job),
                "metrics": metrics,
            }
        )
    if not runs:
        failed = collect_failures(root)
        if failed:
            reasons = "; ".join(f"job {f['job']}: {f['error'][:200]}" for f in failed[:3])
            raise ConfigError(f"all {len(failed)} jobs below {root} failed ({reasons})")
        raise ConfigError(f"no metrics.json below {root}; is it a finished multirun folder?")

    def job_order(run: dict[str, Any]) -> tuple:
        head = run["job"].split("_")[0]
        return (int(head) if head.isdigit() else math.inf, run["job"])

    return sorted(runs, key=job_order)


def main_metric(runs: Sequence[dict[str, Any]], metric: str | None = None) -> str:
    """``metric`` if given (must exist in some run), else the first of :data:`MAIN_METRICS` present."""
    present = {k for r in runs for k, v in r["metrics"].items() if isinstance(v, (int, float))}
    if metric:
        if metric not in present:
            raise ConfigError(f"metric {metric!r} is in no metrics.json; available: {sorted(present)}")
        return metric
    for name in MAIN_METRICS:
        if name in present:
            return name
    raise ConfigError(f"none of {list(MAIN_METRICS)} is in the runs' metrics; choose one with metric=NAME")


def lower_is_better(metric: str) -> bool:
    return any(part in metric for part in LOWER_IS_BETTER)


def varying_keys(runs: Sequence[dict[str, Any]]) -> list[str]:
    """Override keys whose value differs between runs (or that only some runs set), in first-seen order."""
    keys: list[str] = []
    for run in runs:
        keys += [k for k in run["overrides"] if k not in keys]
    return [k for k in keys if len({run["overrides"].get(k) for run in runs}) > 1] or keys


def common_overrides(runs: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Overrides every run shares with the same value (shown once above the table)."""
    varying = set(varying_keys(runs)) if len(runs) > 1 else set()
    return {k: v for k, v in runs[0]["overrides"].items() if k not in varying}


def summary_rows(runs: Sequence[dict[str, Any]], metric: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Column names and one row per job: job, every override key, the main metric, the other key metrics."""
    override_keys = varying_keys(runs)
    shown = [metric] + [m for m in SHOWN_METRICS if m != metric and any(m in r["metrics"] for r in runs)]
    columns = ["job", *override_keys, *shown]
    rows = []
    for run in runs:
        head = run["job"].split("_")[0]
        row: dict[str, Any] = {"job": head if head.isdigit() else run["job"]}
        row.update({k: run["overrides"].get(k, "") for k in override_keys})
        row.update({m: run["metrics"].get(m) for m in shown})
        rows.append(row)
    return columns, rows


def settings(runs: Sequence[dict[str, Any]], metric: str) -> list[tuple[str, list[float]]]:
    """Main-metric values grouped by setting (the varying overrides except ``seed``), in first-seen order."""
    keys = [k for k in varying_keys(runs) if k != "seed"]
    groups: dict[str, list[float]] = {}
    for run in runs:
        label = ",".join(f"{k}={run['overrides'].get(k, '-')}" for k in keys) or "(all)"
        value = run["metrics"].get(metric)
        groups.setdefault(label, [])
        if isinstance(value, (int, float)) and math.isfinite(value):
            groups[label].append(float(value))
    return list(groups.items())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown_table(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def plot_settings(groups: Sequence[tuple[str, list[float]]], metric: str, path: Path) -> Path:
    """Bar per setting (mean over seeds, std as error bar, each seed as a dot)."""
    import matplotlib.pyplot as plt  # no backend switch here: a notebook keeps its own (figures are closed)

    labels = [label for label, _ in groups]
    means = [statistics.fmean(v) if v else math.nan for _, v in groups]
    stds = [statistics.stdev(v) if len(v) > 1 else 0.0 for _, v in groups]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(labels) + 2), 4), dpi=100)
    xs = list(range(len(labels)))
    ax.bar(xs, means, yerr=stds, color="tab:blue", alpha=0.6, capsize=4)
    for x, (_, values) in zip(xs, groups):
        ax.scatter([x] * len(values), values, color="k", s=12, zorder=3)
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    better = "lower is better" if lower_is_better(metric) else "higher is better"
    ax.set_ylabel(metric)
    title = f"{metric} per setting ({better}; dots = seeds)"
    ax.set_title(wrap_title(title, fig.get_figwidth() * 0.8, 10), fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def summarize(sweep_dir: str | Path, metric: str | None = None, out_dir: str | Path | None = None) -> dict:
    """Write ``summary.md``, ``summary.csv`` and ``summary.png``; returns paths, metric and the table."""
    runs = collect_runs(sweep_dir)
    metric = main_metric(runs, metric)
    columns, rows = summary_rows(runs, metric)
    out = Path(out_dir) if out_dir else Path(sweep_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = markdown_table(columns, rows)
    groups = settings(runs, metric)
    best = [(label, statistics.fmean(v)) for label, v in groups if v]
    pick = min if lower_is_better(metric) else max
    best_line = ""
    if best:
        label, value = pick(best, key=lambda item: item[1])
        best_line = f"\nBest setting by {metric}: {label} ({value:.4g}, mean over seeds)\n"
    common = ", ".join(f"{k}={v}" for k, v in common_overrides(runs).items()) or "none"
    header = f"# Sweep summary: {Path(sweep_dir)}\n\nMain metric: `{metric}`; common overrides: {common}\n\n"
    failed = collect_failures(sweep_dir)
    failed_text = ""
    if failed:
        total = len(failed) + len(runs)
        lines = [f"- job {f['job']} ({f.get('kind', 'error')}): {f['error']}" for f in failed]
        failed_text = (
            f"\n{len(failed)} of {total} jobs failed (not in the table):\n" + "\n".join(lines) + "\n"
        )
    (out / "summary.md").write_text(f"{header}{table}\n{best_line}{failed_text}")
    with open(out / "summary.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    plot = plot_settings(groups, metric, out / "summary.png")
    return {
        "metric": metric,
        "columns": columns,
        "rows": rows,
        "table": table + best_line + failed_text,
        "failed": failed,
        "settings": groups,
        "md": out / "summary.md",
        "csv": out / "summary.csv",
        "png": plot,
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or any(a in ("-h", "--help") for a in argv):
        print(USAGE)
        return 0 if argv else 2
    positional = [a for a in argv if "=" not in a]
    options = dict(a.split("=", 1) for a in argv if "=" in a)
    try:
        unknown = set(options) - {"metric", "out_dir", "dir"}
        if unknown:
            raise ConfigError(f"unknown option(s) {sorted(unknown)}\n{USAGE}")
        sweep = options.get("dir") or (positional[0] if positional else None)
        if sweep is None or len(positional) > 1:
            raise ConfigError(f"pass exactly one multirun directory\n{USAGE}")
        result = summarize(sweep, options.get("metric"), options.get("out_dir"))
    except ConfigError as err:
        print(f"evogan-summarize: error: {err}", file=sys.stderr)
        return 2
    print(result["table"])
    print(f"wrote {result['md']}, {result['csv']}, {result['png']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
