"""``evogan-benchmark [algos=gan,egan,cegan,cegan_gp] [mu=1,2,4,8] [backends=loop] [graph=false]``

Milliseconds per generation (median after warm-up, with p10/p90) and peak memory of the single-loss GAN,
E-GAN and CE-GAN (with and without gradient penalty) on the CIFAR-10 EGAN32 setting of the references
(batch m = 32, n_D = 3, evaluation batch n = 256, fp32) with synthetic 32x32 images, on whatever device
it finds. Every setting runs in its own subprocess through the real Trainer (what a user's run costs), so
memory peaks do not leak between settings. ``graph=false,true`` times every setting both eagerly and as a
replayed CUDA graph (``algo.cuda_graph``, GPU only). Results: printed, and saved as JSON + Markdown table in
``out``; the "x GAN" column divides by the single-loss GAN of the same execution mode.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ..core.errors import ConfigError

USAGE = (
    "usage: evogan-benchmark [algos=gan,egan,cegan,cegan_gp] [mu=1,2,4,8] "
    "[backends=loop] [graph=false|true|false,true] [device=auto|cpu|cuda] [warmup=3] [iters=10] "
    "[out=bench_results] [extra=...]"
)
ALGO_OVERRIDES = {
    "gan": ["algo=gan", "algo.loss=heuristic"],
    "egan": ["algo=egan"],
    "cegan": ["algo=cegan", "algo.gradient_penalty=0"],
    "cegan_gp": ["algo=cegan", "algo.gradient_penalty=10"],
}
SETTING = [
    "data=fake",
    "data.image_size=32",
    "data.channels=3",
    "data.num_images=2048",
    "net=egan32",
    "algo.batch_size=32",
    "algo.d_steps=3",
    "algo.r1_penalty=0",  # the papers' CIFAR setting (the toy defaults add R1 and a decaying lr)
    "algo.lr_schedule=constant",
    "logger=none",
    "callbacks=none",
    "trainer.enable_progress_bar=false",
    "log_every_n_generations=1000000",  # logging reads the stats (a device sync): only at the end
]


class GenerationTimer(L.Callback):
    """Wall time of every training batch (= one generation), synchronised with the device."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._t0 = 0.0

    @staticmethod
    def _sync(module) -> None:
        if module.device.type == "cuda":
            torch.cuda.synchronize(module.device)

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self._sync(module)
        self._t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self._sync(module)
        self.times.append(time.perf_counter() - self._t0)


# ATen ops that launch no kernel: allocation, aliasing and host-side reads
_NO_LAUNCH = {
    "empty.memory_format",
    "empty_strided.default",
    "detach.default",
    "alias.default",
    "lift_fresh.default",
    "set_.source_Storage",
    "_local_scalar_dense.default",  # .item() of a CPU step count (torch.optim on a CPU); no device op
}


class _OpCount(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        namespace, name = func._schema.name.split("::")
        if namespace == "aten" and not func.is_view and f"{name}.{func._overloadname}" not in _NO_LAUNCH:
            self.count += 1
        return func(*args, **(kwargs or {}))


class OpCounter(L.Callback):
    """Counts the device ops (kernel launches: ATen ops that are neither views nor bare allocations, forward
    and backward) of generation ``at`` in eager mode, logging excluded. A device-independent measure of the launch-bound cost
    a GPU pays per generation, and of how it grows with the population; measured after the timed
    generations because counting slows them down."""

    def __init__(self, at: int) -> None:
        self.at, self.count = int(at), None
        self._mode: _OpCount | None = None

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if module.generation == self.at and module._graph is None:
            self._mode = _OpCount()
            self._mode.__enter__()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if self._mode is not None:
            self._mode.__exit__(None, None, None)
            self.count, self._mode = self._mode.count, None


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_single(
    algo: str,
    mu: int,
    backend: str,
    device: str,
    warmup: int,
    iters: int,
    extra: list[str],
    graph: bool = False,
) -> dict[str, Any]:
    """One setting in this process: returns timing and memory statistics. With ``graph`` the first
    ``warmup`` generations include the eager warm-up and the capture (engine/capture.py); make it >= 4 so
    only replays are timed."""
    from ..data.datamodule import GANDataModule
    from ..run.config import compose
    from ..run.train import build_module

    overrides = [
        *ALGO_OVERRIDES[algo],
        *SETTING,
        # + 2: the op count, on a generation that does not log (the last one always does)
        f"generations={warmup + iters + 2}",
        f"trainer.accelerator={device}",
        f"algo.cuda_graph={str(bool(graph)).lower()}",
    ]
    if algo != "gan":
        overrides += [f"algo.population_size={mu}", "algo.eval_batch_size=256", f"algo.backend={backend}"]
    from omegaconf import OmegaConf

    if algo == "gan":  # extras for the evolutionary algorithms (algo.eval_batch_size, ...) do not apply
        base = compose(overrides, output_dir=os.devnull)
        extra = [e for e in extra if e.startswith("+") or OmegaConf.select(base, e.split("=")[0]) is not None]
    cfg = compose([*overrides, *extra], output_dir=os.devnull)

    plain = OmegaConf.to_container(cfg, resolve=True)
    L.seed_everything(0, verbose=False)
    dm = GANDataModule(plain["data"], seed=0)
    module = build_module(plain, dm.info())
    dm.batch_size = module.reals_per_generation
    timer, ops = GenerationTimer(), OpCounter(at=warmup + iters)
    trainer = L.Trainer(
        **plain["trainer"],
        max_epochs=-1,
        logger=False,
        callbacks=[timer, ops],
        enable_checkpointing=False,
        num_sanity_val_steps=0,
        default_root_dir="/tmp/evogan_bench",
    )
    if module.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    trainer.fit(module, datamodule=dm)
    times = sorted(t * 1000 for t in timer.times[warmup : warmup + iters])
    q = statistics.quantiles(times, n=10) if len(times) >= 2 else times * 9
    return {
        "algo": algo,
        "mu": mu if algo != "gan" else 1,
        "backend": backend if algo != "gan" else "-",
        "mode": "graph" if graph else "eager",
        "device": str(module.device),
        "ms_per_generation": statistics.median(times),
        "ms_p10": q[0],
        "ms_p90": q[-1],
        "peak_memory_mb": _peak_memory_mb(module.device),
        "ops_per_generation": ops.count,  # None in graph mode: one graph launch
        "generations_timed": len(times),
    }


def _device_name(device: str) -> str:
    if device in ("auto", "cuda", "gpu") and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def to_markdown(rows: list[dict[str, Any]]) -> str:
    """A Markdown table with the ratio to the single-loss GAN of the same device and execution mode."""
    gan = {r.get("mode", "eager"): r["ms_per_generation"] for r in rows if r["algo"] == "gan"}
    lines = [
        "| algorithm | mu | backend | mode | ms/generation (median) | p10-p90 | x GAN | peak memory (MB) "
        "| device ops/generation |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        mode = r.get("mode", "eager")
        ratio = f"{r['ms_per_generation'] / gan[mode]:.2f}" if mode in gan else "-"
        lines.append(
            f"| {r['algo']} | {r['mu']} | {r['backend']} | {mode} | {r['ms_per_generation']:.1f} | "
            f"{r['ms_p10']:.1f}-{r['ms_p90']:.1f} | {ratio} | {r['peak_memory_mb']:.0f} | "
            f"{r.get('ops_per_generation') or '-'} |"
        )
    return "\n".join(lines)


def _flag(value: str) -> bool:
    v = str(value).lower()
    if v not in ("true", "false"):
        raise ValueError(f"graph takes true, false or both (graph=false,true), got {value!r}")
    return v == "true"


def check_benchmark_device(device: str) -> None:
    """``device``: auto (CUDA when visible, else the CPU), cpu, or cuda/gpu (ConfigError when none is visible)."""
    from ..run.checks import check_device

    if device not in ("auto", "cpu", "cuda", "gpu"):
        raise ConfigError(f"device must be auto, cpu or cuda, got {device!r}")
    if device in ("cuda", "gpu"):
        check_device("cuda")


def main(argv: list[str] | None = None) -> int:
    from .cli_common import parse_args

    argv = sys.argv[1:] if argv is None else argv
    defaults = {
        "algos": "gan,egan,cegan,cegan_gp",
        "mu": "1,2,4,8",
        "backends": "loop",
        "graph": "false",
        "device": "auto",
        "warmup": 3,
        "iters": 10,
        "out": "bench_results",
        "extra": "",
        "single": False,
    }
    try:
        args = parse_args(argv, defaults, USAGE)
        check_benchmark_device(args["device"])
    except ConfigError as err:
        print(f"evogan-benchmark: error: {err}", file=sys.stderr)
        return 2
    split = lambda v: [s for s in str(v).replace(" ", "").split(",") if s]  # noqa: E731
    extra = split(args["extra"]) if args["extra"] else []
    if args["single"]:
        row = run_single(
            split(args["algos"])[0],
            int(split(args["mu"])[0]),
            split(args["backends"])[0],
            args["device"],
            int(args["warmup"]),
            int(args["iters"]),
            extra,
            graph=_flag(split(args["graph"])[0]),
        )
        print("BENCH_RESULT " + json.dumps(row))
        return 0
    unknown = set(split(args["algos"])) - set(ALGO_OVERRIDES)
    if unknown:
        print(
            f"unknown algos {sorted(unknown)}; choose from {sorted(ALGO_OVERRIDES)}\n{USAGE}", file=sys.stderr
        )
        return 2
    try:
        modes = [_flag(v) for v in split(args["graph"])]
    except ValueError as err:
        print(f"{err}\n{USAGE}", file=sys.stderr)
        return 2
    cuda = args["device"] in ("auto", "cuda", "gpu") and torch.cuda.is_available()
    if any(modes) and not cuda:
        print(
            "graph=true (CUDA graphs) needs a CUDA device; run on a GPU or use graph=false", file=sys.stderr
        )
        return 2
    if any(modes) and int(args["warmup"]) < 4:
        print("graph=true: warmup must be >= 4 (3 eager warm-up generations + the capture)", file=sys.stderr)
        return 2
    rows: list[dict[str, Any]] = []
    plan = []
    for algo in split(args["algos"]):
        for mu in [1] if algo == "gan" else [int(m) for m in split(args["mu"])]:
            for backend in ["-"] if algo == "gan" else split(args["backends"]):
                for graph in modes:
                    plan.append((algo, mu, backend, graph))
    for i, (algo, mu, backend, graph) in enumerate(plan, 1):
        cmd = [
            sys.executable,
            "-m",
            "evogan_lightning.tools.benchmark",
            "single=true",
            f"algos={algo}",
            f"mu={mu}",
            f"backends={backend if backend != '-' else 'loop'}",
            f"device={args['device']}",
            f"warmup={args['warmup']}",
            f"iters={args['iters']}",
            f"graph={str(graph).lower()}",
        ]
        if extra:
            cmd.append("extra=" + ",".join(extra))
        proc = subprocess.run(cmd, capture_output=True, text=True)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
        if proc.returncode != 0 or line is None:
            print(
                f"[{i}/{len(plan)}] {algo} mu={mu} {backend} graph={graph}: FAILED\n{proc.stderr[-2000:]}",
                file=sys.stderr,
            )
            continue
        row = json.loads(line[len("BENCH_RESULT ") :])
        rows.append(row)
        print(
            f"[{i}/{len(plan)}] {algo:9s} mu={mu} backend={row['backend']:8s} {row['mode']:5s} "
            f"{row['ms_per_generation']:8.1f} ms/generation  peak {row['peak_memory_mb']:.0f} MB",
            flush=True,
        )
    out = Path(args["out"])
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "device": _device_name(args["device"]),
        "torch": torch.__version__,
        "setting": "EGAN32 nets, synthetic 32x32x3 images, m=32, n_D=3, n=256, fp32",
    }
    if extra:  # the overrides change the setting: say so next to it
        meta["setting"] += "; overrides: " + " ".join(extra)
    (out / "benchmark.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    table = f"{meta['date']}, {meta['device']}, torch {meta['torch']}; {meta['setting']}\n\n" + to_markdown(
        rows
    )
    (out / "benchmark.md").write_text(table + "\n")
    print("\n" + table)
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
