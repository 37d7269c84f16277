"""``evogan-study [algos=...] [data=ring8,grid25] [seeds=0,1,2,3,4] [jobs=2] [out=DIR]``

The studies of the README's "Results": every algorithm (the single-loss baselines, E-GAN, CE-GAN, GAGAN, the
stochastic-crossover GAN) on every data set for several seeds, all with the same preset, then tables as
mean +- std over seeds with generations/s and wall-clock, and figures.

- Toy data (``data=ring8,grid25``, preset ``experiment=toy_fast``): modes covered (and on how many seeds
  all of them), high-quality share and mode KL; a figure of the final samples (rows: algorithms).
- Images (``data=fashion_mnist,stacked_fashion_mnist``, preset ``experiment=fmnist_fast``): every run also
  logs a classifier-FID curve over its training seconds, and is scored when it ends by the 28x28 image
  protocol (``metrics.image_protocol``: 10,000 samples against the 10,000 test images). The classifier is
  trained once and cached (``train_classifier.cached_classifier``) unless ``classifier=FILE`` is given. See
  ``tools.study_images`` for the tables (with floor and ceiling rows) and figures.

Each run is an ordinary training run in ``OUT/<algo>/<data>/seed<k>/`` (its own checkpoint, metrics.json,
logs and plots); a study that was stopped continues where it left off (finished runs are kept and not
rerun), and ``report_only=true`` rebuilds the table and figure from the runs on disk. Runs go ``jobs`` at a
time, each on one CPU thread (two torch processes with several threads each slow each other down).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError

IMAGE_DEFAULT_ROOTS = (
    "data",
    "/usr/share/datasets/fashion-mnist",
)  # data.root tried in order (Debian's last)


@dataclass(frozen=True)
class StudyAlgo:
    """One study algorithm, from ``conf/study/<name>.yaml``: the overrides that make it (on top of the
    preset), the data kinds whose default study runs it (``row``: its place in the tables), and for the
    equal-wall-clock variants (``*_long``) the factor on the preset's generations per data kind."""

    name: str
    overrides: tuple[str, ...]
    default_for: tuple[str, ...] = ()
    row: int = 100
    generations_factor: dict[str, float] = field(default_factory=dict)


def load_study_algos() -> dict[str, StudyAlgo]:
    """Every ``conf/study/*.yaml`` (the defaults by ``row``, then the opt-in variants by name)."""
    from omegaconf import OmegaConf

    from ..core.conf_files import config_dir

    found = []
    for path in sorted((config_dir() / "study").glob("*.yaml")):
        values = OmegaConf.to_container(OmegaConf.load(path))
        assert isinstance(values, dict)
        found.append(
            StudyAlgo(
                name=path.stem,
                overrides=tuple(values["overrides"]),
                default_for=tuple(values.get("default_for") or ()),
                row=int(values.get("row", 100)),
                generations_factor=dict(values.get("generations_factor") or {}),
            )
        )
    return {a.name: a for a in sorted(found, key=lambda a: (a.row, a.name))}


STUDY = load_study_algos()
ALL_ALGOS: dict[str, list[str]] = {name: list(a.overrides) for name, a in STUDY.items()}
STUDY_ALGOS = {name: ALL_ALGOS[name] for name, a in STUDY.items() if a.default_for}  # table order
STUDY_VARIANTS = {name: ALL_ALGOS[name] for name, a in STUDY.items() if not a.default_for}
# image runs: fitness on 128 samples for every population method (CE-GAN's default; E-GAN's and SCGAN's are
# 256), which fits the default image study in about 3 hours on two CPU cores; the README says so
IMAGE_OVERRIDES = ["algo.eval_batch_size=128"]
TOY_DATA = ("ring8", "grid25")
IMAGE_DATA = ("fashion_mnist", "stacked_fashion_mnist")
PRESETS = {"toy": "toy_fast", "image": "fmnist_fast"}
# the default algorithms per kind (the image study leaves least squares to the opt-in variants, for time)
DEFAULT_ALGOS = {kind: [n for n, a in STUDY.items() if kind in a.default_for] for kind in ("toy", "image")}
METRICS = ("toy/modes_covered", "toy/high_quality_share", "toy/mode_kl")
USAGE = (
    "usage: evogan-study [algos=gan_minimax,...,scgan (or a variant: "
    + ",".join(STUDY_VARIANTS)
    + ")] [data=ring8,grid25 | data=fashion_mnist,stacked_fashion_mnist] "
    "[seeds=0,1,2,3,4] [preset=toy_fast|fmnist_fast] [generations=N] [jobs=2] [out=studies/toy|studies/images] "
    "[extra='key=value ...'] [report_only=false] [root=DIR] [classifier=FILE] [curve_every=250] "
    "[curve_samples=2000] [protocol_samples=10000] [timing=false]\n"
    "timing=true: first measure ms/generation of every algorithm and data set alone (costs.json; the image "
    "report's wall-clock)\n"
    "extra: overrides for every run (algo.KEY only where that algorithm has the option); root, classifier and "
    "curve_*: image studies only"
)


@dataclass
class Run:
    """One training run of the study."""

    algo: str
    data: str
    seed: int
    dir: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    returncode: int | None = None
    image: bool = False  # image runs are done when scored too (protocol.json)

    @property
    def trained(self) -> bool:
        return (self.dir / "metrics.json").is_file()

    @property
    def done(self) -> bool:
        return self.trained and (not self.image or (self.dir / "protocol.json").is_file())

    def load(self) -> None:
        self.metrics = json.loads((self.dir / "metrics.json").read_text()) if self.done else {}
        if self.done and self.image:
            self.metrics.update(json.loads((self.dir / "protocol.json").read_text()))


def split_list(value: Any) -> list[str]:
    """``"a,b"`` (or a list from the command line) -> ``["a", "b"]``."""
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [s for s in str(value).replace(" ", "").split(",") if s]


def data_kind(data: Sequence[str]) -> str:
    """``"toy"`` or ``"image"`` for the study's data sets (one kind per study: their metrics differ)."""
    unknown = [d for d in data if d not in (*TOY_DATA, *IMAGE_DATA)]
    if unknown or not data:
        raise ConfigError(
            f"the study scores toy mixtures {list(TOY_DATA)} (modes covered, high-quality share, mode KL) or "
            f"28x28 images {list(IMAGE_DATA)} (classifier-FID and the image protocol), got data {list(data)}. "
            "For other images, sweep with Hydra and score FID instead: python -m evogan_lightning -m "
            "algo=gan,cegan data=... seed=0,1,2 'callbacks=[default,fid]' (or classifier_fid), then "
            "evogan-summarize multirun/<date>/<time> metric=val/fid"
        )
    kinds = {"toy" if d in TOY_DATA else "image" for d in data}
    if len(kinds) > 1:
        raise ConfigError(
            f"a study runs either toy mixtures or images, got both ({list(data)}); run two studies into two "
            "out= folders"
        )
    return kinds.pop()


def plan(algos: Sequence[str], data: Sequence[str], seeds: Sequence[int], out: Path) -> list[Run]:
    """The runs of a study, checked before anything starts (unknown names fail with the valid ones)."""
    unknown = [a for a in algos if a not in ALL_ALGOS]
    if unknown:
        raise ConfigError(f"unknown study algorithm(s) {unknown}; choose from {list(ALL_ALGOS)}")
    image = data_kind(data) == "image"
    if not seeds:
        raise ConfigError("seeds is empty; give at least one, e.g. seeds=0,1,2,3,4")
    return [Run(a, d, s, out / a / d / f"seed{s}", image=image) for a in algos for d in data for s in seeds]


def applicable(algo: str, extra: Sequence[str]) -> list[str]:
    """The ``extra`` overrides that apply to study algorithm ``algo``: an ``algo.KEY=...`` override only
    where that algorithm has the option (``algo.eval_batch_size`` is not a baseline GAN option)."""
    from ..algos.config import CONFIGS

    name = next(o.split("=", 1)[1] for o in ALL_ALGOS[algo] if o.startswith("algo="))
    known = {f.name for f in dataclasses.fields(CONFIGS[name])}
    keep = []
    for item in extra:
        key = item.split("=", 1)[0].lstrip("+~")
        if key.startswith("algo.") and key.split(".")[1] not in known:
            continue
        keep.append(item)
    return keep


@dataclass
class ImageSetup:
    """What image runs add to their command: the data root, the classifier of the curve and the protocol, and
    the curve's schedule (classifier-FID of ``curve_samples`` samples every ``curve_every`` generations)."""

    root: str
    classifier: str
    curve_every: int = 250
    curve_samples: int = 2000
    protocol_samples: int = 10_000  # generated images of the protocol (its default; smaller for tests)

    def train_overrides(self) -> list[str]:
        return [
            f"data.root={self.root}",
            "callbacks=[default,classifier_fid]",
            f"callbacks.classifier_fid.classifier={self.classifier}",
            f"callbacks.classifier_fid.num_samples={self.curve_samples}",
            f"callbacks.classifier_fid.every_n_generations={self.curve_every}",
            "callbacks.classifier_fid.kid=false",
            "trainer.enable_progress_bar=false",
        ]

    def score_command(self, run: Run) -> list[str]:
        """``evaluate protocol=true`` on the run's last checkpoint, into ``protocol.json``."""
        return [
            sys.executable,
            "-m",
            "evogan_lightning.tools.evaluate",
            f"ckpt_path={run.dir / 'checkpoints' / 'last.ckpt'}",
            f"classifier={self.classifier}",
            "protocol=true",
            "fid=false",
            f"num_samples={self.protocol_samples}",
            f"out={run.dir / 'protocol.json'}",
        ]


def preset_generations(preset: str) -> int:
    """The ``generations`` of ``experiment=preset``."""
    from ..run.config import compose

    return int(compose([f"experiment={preset}", "output_dir=."]).generations)


def command(
    run: Run,
    preset: str,
    generations: int | None,
    extra: Sequence[str],
    image: ImageSetup | None = None,
) -> list[str]:
    """The training command of one run (an ordinary ``python -m evogan_lightning`` call); ``extra``
    overrides go to every run that has them (``applicable``). An equal-wall-clock variant (``*_long``) runs
    its ``generations_factor`` times the generations (``generations`` or the preset's)."""
    cmd = [sys.executable, "-m", "evogan_lightning", f"experiment={preset}", *ALL_ALGOS[run.algo]]
    cmd += [f"data={run.data}", f"seed={run.seed}", f"hydra.run.dir={run.dir}"]
    factor = STUDY[run.algo].generations_factor.get("image" if run.image else "toy")
    if factor:
        base = generations if generations is not None else preset_generations(preset)
        generations = round(base * factor)
    if generations is not None:
        cmd.append(f"generations={generations}")
    if image is not None:
        cmd += image.train_overrides() + applicable(run.algo, IMAGE_OVERRIDES)
    return cmd + applicable(run.algo, extra)


def _fmt_time(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _summary(run: Run) -> str:
    m = run.metrics
    if run.image:
        what = f"classifier-FID {m.get('test/classifier_fid', math.nan):.1f}"
        if "test/modes_covered" in m:
            what += f", {m['test/modes_covered']:.0f}/1000 modes"
        return what
    return f"{m['toy/modes_covered']:.0f}/{m['toy/num_modes']:.0f} modes, {100 * m['toy/high_quality_share']:.0f}% high quality"


def execute(runs: Sequence[Run], commands: Sequence[Sequence[list[str]]], jobs: int) -> None:
    """Run each run's commands (training, then scoring for images; one after another) with ``jobs`` runs at a
    time (one CPU thread each when parallel), printing one line per finished run with its numbers and the
    time left. A failed run is reported and the others go on. A run whose first command trains starts in an
    empty folder (a run interrupted with the study starts afresh: no mixed logs)."""
    env = dict(os.environ)
    if jobs > 1:
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    pending = [(run, list(steps)) for run, steps in zip(runs, commands)]
    active: list[tuple[Run, subprocess.Popen, Any, float, list[list[str]]]] = []
    started, finished, total = time.time(), 0, len(pending)

    def launch(run: Run, cmd: list[str], t0: float, rest: list[list[str]], fresh: bool) -> None:
        if fresh:
            if run.dir.exists():
                shutil.rmtree(run.dir)
            run.dir.mkdir(parents=True, exist_ok=True)
        run.dir.mkdir(parents=True, exist_ok=True)
        log = open(run.dir / "study.log", "a")  # noqa: SIM115 (closed when the step ends)
        log.write(shlex.join(cmd) + "\n")
        log.flush()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        active.append((run, proc, log, t0, rest))

    while pending or active:
        while pending and len(active) < jobs:
            run, steps = pending.pop(0)
            trains = "evogan_lightning" == steps[0][2]
            launch(run, steps[0], time.time(), steps[1:], fresh=trains)
        time.sleep(0.2)
        for item in list(active):
            run, proc, log, t0, rest = item
            if proc.poll() is None:
                continue
            active.remove(item)
            log.close()
            run.returncode = proc.returncode
            if proc.returncode == 0 and rest:
                launch(run, rest[0], t0, rest[1:], fresh=False)
                continue
            run.load()
            finished += 1
            elapsed = time.time() - started
            eta = elapsed / finished * (total - finished)
            if run.done:
                what = _summary(run)
            else:
                what = f"FAILED (exit {proc.returncode}; see {run.dir / 'study.log'})"
            print(
                f"[{finished}/{total}] {run.algo} {run.data} seed {run.seed}: {what}, "
                f"{_fmt_time(time.time() - t0)} (left: ~{_fmt_time(eta)})",
                flush=True,
            )


# ------------------------------------------------------------------------------------------ the report
def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value; NaN for none)."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return math.nan, math.nan
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def aggregate(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """One row per (algorithm, data set): mean and std over seeds of every metric, generations/s and
    wall-clock; ``seeds`` counts the finished runs and ``missing`` the others (failed or not run yet)."""
    rows = []
    keys = list(dict.fromkeys((r.algo, r.data) for r in runs))
    for algo, data in keys:
        group = [r for r in runs if (r.algo, r.data) == (algo, data)]
        ok = [r for r in group if r.done]
        row: dict[str, Any] = {"algo": algo, "data": data, "seeds": len(ok), "missing": len(group) - len(ok)}
        for name in METRICS:
            row[name], row[name + "_std"] = mean_std([r.metrics.get(name) for r in ok])
        row["toy/num_modes"] = ok[0].metrics.get("toy/num_modes", math.nan) if ok else math.nan
        seconds = [float(r.metrics.get("train_seconds", math.nan)) for r in ok]
        rates = [float(r.metrics.get("generation", 0)) / s for r, s in zip(ok, seconds) if s > 0]
        row["generations"] = ok[0].metrics.get("generation") if ok else None
        row["generations_per_s"], _ = mean_std(rates)
        row["train_seconds"], _ = mean_std(seconds)
        row["per_seed_modes"] = [r.metrics.get("toy/modes_covered") for r in ok]
        row["all_modes_seeds"] = sum(
            1 for r in ok if r.metrics.get("toy/modes_covered") == r.metrics.get("toy/num_modes")
        )
        rows.append(row)
    return rows


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The results table (mean +- std over seeds)."""
    head = (
        "| algorithm | data | modes covered | seeds with every mode | high-quality share (%) | mode KL | gen/s "
        "| wall-clock (s) | seeds |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        if not r["seeds"]:
            lines.append(f"| {r['algo']} | {r['data']} | - | - | - | - | - | - | 0 of {r['missing']} |")
            continue
        k = r["toy/num_modes"]
        modes = f"{r['toy/modes_covered']:.1f} +- {r['toy/modes_covered_std']:.1f} / {k:.0f}"
        hq = f"{100 * r['toy/high_quality_share']:.1f} +- {100 * r['toy/high_quality_share_std']:.1f}"
        kl = f"{r['toy/mode_kl']:.2f} +- {r['toy/mode_kl_std']:.2f}"
        seeds = f"{r['seeds']}" + (f" of {r['seeds'] + r['missing']}" if r["missing"] else "")
        lines.append(
            f"| {r['algo']} | {r['data']} | {modes} | {r['all_modes_seeds']} of {r['seeds']} | {hq} | {kl} | "
            f"{r['generations_per_s']:.0f} | {r['train_seconds']:.0f} | {seeds} |"
        )
    return head + "\n".join(lines) + "\n"


def panel_figure(
    runs: Sequence[Run],
    path: Path,
    draw: Callable[[Any, str, Run | None], None],
    rows_are_algos: bool,
    panel: tuple[float, float],
    suptitle: str | None = None,
) -> None:
    """One panel per (algorithm, data set): ``draw(ax, data, run)`` fills it from the first finished run that
    has a checkpoint (``run`` None: "no run" is written over what ``draw`` drew). Rows are algorithms or data
    sets; each row and column is labelled; ``panel`` is one panel's (width, height) in inches."""
    import matplotlib.pyplot as plt  # no backend switch here: a notebook keeps its own (figures are closed)

    algos = list(dict.fromkeys(r.algo for r in runs))
    datas = list(dict.fromkeys(r.data for r in runs))
    rows, cols = (algos, datas) if rows_are_algos else (datas, algos)
    fig, axes = plt.subplots(
        len(rows), len(cols), figsize=(panel[0] * len(cols), panel[1] * len(rows)), squeeze=False
    )
    for i, row in enumerate(rows):
        for j, col in enumerate(cols):
            algo, data = (row, col) if rows_are_algos else (col, row)
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            done = [
                r
                for r in runs
                if (r.algo, r.data) == (algo, data)
                and r.done
                and (r.dir / "checkpoints" / "last.ckpt").is_file()
            ]
            draw(ax, data, done[0] if done else None)
            if not done:
                ax.text(0.5, 0.5, "no run", ha="center", va="center", transform=ax.transAxes)
            if j == 0:
                ax.set_ylabel(row, fontsize=9)
            if i == 0:
                ax.set_xlabel(col, fontsize=9)
                ax.xaxis.set_label_position("top")
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def samples_figure(runs: Sequence[Run], path: Path, num_samples: int = 2000) -> None:
    """Final samples of every algorithm (columns) on every data set (rows), as the E-GAN paper lays out its toy
    results: the first finished seed of each, over the true mode centres; each panel is titled with that run's
    numbers."""
    import torch

    from ..data.toy import TOY_MIXTURES
    from .cli_common import load_module

    def draw(ax: Any, data: str, run: Run | None) -> None:
        mixture = TOY_MIXTURES[data]()
        lim = float(mixture.centers.abs().max()) * 1.35
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        if run is not None:
            module = load_module(run.dir / "checkpoints" / "last.ckpt")
            gen = torch.Generator().manual_seed(module.seed + 1)
            x = module.sample(num_samples, generator=gen).numpy()
            ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.4, color="tab:red", rasterized=True)
            m = run.metrics
            ax.set_title(
                f"{m['toy/modes_covered']:.0f}/{m['toy/num_modes']:.0f} modes, "
                f"{100 * m['toy/high_quality_share']:.0f}% HQ",
                fontsize=7,
            )
        c = mixture.centers.numpy()
        ax.scatter(c[:, 0], c[:, 1], s=10, marker="x", color="black", linewidths=0.7)

    title = f"final samples (seed {min(r.seed for r in runs)}), red; mode centres, black"
    panel_figure(runs, path, draw, rows_are_algos=False, panel=(2.3, 2.5), suptitle=title)


def report(runs: Sequence[Run], out: Path, header: str) -> str:
    """Write results.md / results.csv / results.json and samples.png into ``out``; return the table."""
    for r in runs:
        r.load()
    rows = aggregate(runs)
    table = markdown(rows)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(header + "\n\n" + table)
    (out / "results.json").write_text(
        json.dumps(
            {
                "rows": rows,
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
    cols = [k for k in rows[0] if k != "per_seed_modes"] if rows else []
    csv_lines = [",".join(cols)] + [",".join(str(r[c]) for c in cols) for r in rows]
    (out / "results.csv").write_text("\n".join(csv_lines) + "\n")
    if any(r.done for r in runs):
        samples_figure(runs, out / "samples.png")
    return table


def check_extra(runs: Sequence[Run], preset: str, extra: Sequence[str]) -> None:
    """Every ``extra`` override must mean something: an ``algo.KEY`` that none of the study's algorithms has,
    or any override that does not compose with the preset, is refused now (not dropped while the report
    lists it)."""
    from ..algos.config import CONFIGS
    from ..run.config import check_keys, compose

    algos = list(dict.fromkeys(r.algo for r in runs))
    names = {next(o.split("=", 1)[1] for o in ALL_ALGOS[a] if o.startswith("algo=")) for a in algos}
    for item in extra:
        key = item.split("=", 1)[0].lstrip("+~")
        if key.startswith("algo."):
            option = key.split(".")[1]
            if not any(option in {f.name for f in dataclasses.fields(CONFIGS[n])} for n in names):
                valid = sorted(
                    set().union(*({f.name for f in dataclasses.fields(CONFIGS[n])} for n in names))
                )
                raise ConfigError(
                    f"extra: no algorithm of this study has the option {key}; their options: {valid}"
                )
    for run in {r.algo: r for r in runs}.values():  # one composition per algorithm: unknown keys, bad values
        overrides = [
            f"experiment={preset}",
            *ALL_ALGOS[run.algo],
            f"data={run.data}",
            *applicable(run.algo, extra),
        ]
        try:
            check_keys(dict(compose(overrides, output_dir=".")))
        except ConfigError as err:
            raise ConfigError(f"extra={shlex.join(extra)!r} with {run.algo}: {err}") from err
        except Exception as err:  # Hydra's own override errors
            raise ConfigError(f"extra={shlex.join(extra)!r} with {run.algo}: {err}") from err


def check_out_folder(out: Path, report_only: bool, runs: Sequence[Run]) -> Path:
    """``out`` must be writable; ``report_only`` needs runs on disk."""
    from ..run.checks import check_writable_folder

    if report_only:
        if not any(r.trained for r in runs):
            raise ConfigError(
                f"report_only=true, but {out} holds no finished run of this study; run it first (drop report_only)"
            )
    return check_writable_folder(out, "out")


COSTS_FILE = "costs.json"


def measure_costs(
    runs: Sequence[Run],
    preset: str,
    extra: Sequence[str],
    image: ImageSetup | None,
    out: Path,
    short: int = 50,
    long: int = 250,
) -> dict[str, dict[str, float]]:
    """Milliseconds per generation of every (algorithm, data set) of the study, measured alone, one run at a
    time on one CPU thread (no evaluations, no logging): (t(long) - t(short)) / (long - short), so start-up
    does not count. Written to ``out/costs.json``; the image report reads wall-clock from it (the study's own
    timings share the machine with the other job and whatever else ran)."""
    import tempfile

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    costs: dict[str, dict[str, float]] = {}
    pairs = list(dict.fromkeys((r.algo, r.data) for r in runs))
    for k, (algo, data) in enumerate(pairs, 1):
        seconds = []
        for generations in (short, long):
            with tempfile.TemporaryDirectory() as folder:
                probe = Run(algo, data, 0, Path(folder) / "run", image=image is not None)
                cmd = command(probe, preset, generations, extra, image)
                cmd = [
                    c
                    for c in cmd
                    if not c.startswith(("callbacks", "generations=", "trainer.enable_progress_bar"))
                ]
                cmd += [
                    f"generations={generations}",
                    "callbacks=none",
                    "logger=none",
                    "trainer.enable_progress_bar=false",
                ]
                cmd += [f"log_every_n_generations={long}"]
                done = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if done.returncode != 0:
                    raise ConfigError(
                        f"timing {algo} on {data} failed: {done.stderr.strip().splitlines()[-1:]}"
                    )
                seconds.append(json.loads((probe.dir / "metrics.json").read_text())["train_seconds"])
        ms = 1000 * (seconds[1] - seconds[0]) / (long - short)
        costs.setdefault(algo, {})[data] = ms
        print(f"[timing {k}/{len(pairs)}] {algo} {data}: {ms:.0f} ms/generation", flush=True)
    (out / COSTS_FILE).write_text(json.dumps(costs, indent=2))
    return costs


def image_root(given: Any) -> str:
    """``root=`` or the first of ``IMAGE_DEFAULT_ROOTS`` that holds the Fashion-MNIST training images."""
    if given:
        return str(given)
    from ..data.images import locate

    for root in IMAGE_DEFAULT_ROOTS:
        files, _ = locate("fashion_mnist", {"root": root, "split": "train"})
        if files is not None:
            return root
    raise ConfigError(
        f"no Fashion-MNIST files in {list(IMAGE_DEFAULT_ROOTS)}: give root=DIR (the folder holding "
        "train-images-idx3-ubyte[.gz]); on Debian/Ubuntu `apt-get install dataset-fashion-mnist` installs them "
        "under /usr/share/datasets/fashion-mnist"
    )


def image_setup(args: dict[str, Any]) -> ImageSetup:
    """Data root and classifier of an image study (the cached classifier is trained now when missing)."""
    root = image_root(args["root"])
    classifier = args["classifier"]
    if classifier:
        from ..metrics.image_protocol import ImageProtocol

        ImageProtocol(
            str(classifier), {"name": "fashion_mnist", "root": root}
        )  # refuses a wrong classifier now
    else:
        from .train_classifier import cached_classifier

        data_cfg = {"name": "fashion_mnist", "root": root, "download": False, "split": "train"}
        classifier = str(cached_classifier(data_cfg, progress=False))
    every, samples, scored = (
        int(args["curve_every"]),
        int(args["curve_samples"]),
        int(args["protocol_samples"]),
    )
    if every < 1 or samples < 10 or scored < 10:
        raise ConfigError(
            f"curve_every must be >= 1, curve_samples and protocol_samples >= 10, got {every}, {samples}, {scored}"
        )
    return ImageSetup(root, str(classifier), every, samples, scored)


def main(argv: list[str] | None = None) -> int:
    from .cli_common import parse_args

    argv = sys.argv[1:] if argv is None else argv
    defaults: dict[str, Any] = {
        "algos": None,  # DEFAULT_ALGOS of the data's kind
        "data": ",".join(TOY_DATA),
        "seeds": None,  # toy: 0-4, images: 0-2
        "preset": None,  # PRESETS of the data's kind
        "generations": None,
        "jobs": 2,
        "out": None,  # studies/toy or studies/images
        "extra": "",
        "report_only": False,
        "root": None,
        "classifier": None,
        "curve_every": 250,
        "curve_samples": 2000,
        "protocol_samples": 10_000,
        "timing": False,
    }
    try:
        args = parse_args(argv, defaults, USAGE)
        data = split_list(args["data"])
        kind = data_kind(data)
        try:
            given = (
                args["seeds"] if args["seeds"] is not None else ("0,1,2,3,4" if kind == "toy" else "0,1,2")
            )
            seeds = [int(s) for s in split_list(given)]
        except ValueError as err:
            raise ConfigError(
                f"seeds must be whole numbers separated by commas, got {args['seeds']!r}"
            ) from err
        jobs = int(args["jobs"])
        if jobs < 1:
            raise ConfigError(f"jobs must be >= 1, got {jobs}")
        generations = args["generations"]
        if generations is not None and not (isinstance(generations, int) and generations >= 1):
            raise ConfigError(f"generations must be a whole number >= 1, got {generations!r}")
        out = Path(str(args["out"] or f"studies/{'toy' if kind == 'toy' else 'images'}"))
        preset = str(args["preset"] or PRESETS[kind])
        runs = plan(split_list(args["algos"] or DEFAULT_ALGOS[kind]), data, seeds, out)
        extra = shlex.split(str(args["extra"] or ""))
        check_extra(runs, preset, extra)
        out = check_out_folder(out, bool(args["report_only"]), runs)
        setup = image_setup(args) if kind == "image" else None
    except ConfigError as err:
        print(f"evogan-study: error: {err}", file=sys.stderr)
        return 2
    if args["timing"]:
        measure_costs(runs, preset, extra, setup, out)
    if not args["report_only"]:
        todo = [r for r in runs if not r.done]
        if len(todo) < len(runs):
            print(
                f"{len(runs) - len(todo)} of {len(runs)} runs already finished in {out}; running the other {len(todo)}"
            )
        print(f"study: {len(todo)} runs, {jobs} at a time, preset experiment={preset} -> {out}", flush=True)
        steps = []
        for r in todo:
            train = [] if r.trained else [command(r, preset, generations, extra, setup)]
            steps.append(train + ([setup.score_command(r)] if setup is not None else []))
        execute(todo, steps, jobs)
    what = "Toy study" if kind == "toy" else "Image study"
    header = (
        f"{what}, {time.strftime('%Y-%m-%d')}: `evogan-study "
        + " ".join(argv)
        + f"` (preset experiment={preset}; mean +- std over seeds {','.join(map(str, seeds))})"
    )
    if setup is not None:
        from .study_images import report_images

        table = report_images(runs, out, header, setup, preset)
        print(table)
        print(f"wrote {out / 'results.md'}, results.json, samples.png and fid_vs_time.png")
    else:
        table = report(runs, out, header)
        print(table)
        print(f"wrote {out / 'results.md'}, results.csv, results.json and samples.png")
    failed = [r for r in runs if not r.done]
    if failed:
        print(f"{len(failed)} run(s) did not finish; rerun the same command to retry them", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
