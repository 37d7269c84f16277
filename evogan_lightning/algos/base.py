"""The shared base LightningModule of every algorithm.

It owns what all algorithms share: manual optimisation, the generator population store, the
discriminator and its step (BCE + optional gradient penalty), the generation counter and the lr schedule.
The rest comes in one mixin per concern, each in its own module: ``randomness`` (streams, noise),
``divergence`` (flags and checks), ``reporting`` (logging, operator shares), ``checkpointing`` (the schema
and its migration) and ``api`` (``create``, ``datamodule``, ``sample``). An algorithm subclass declares its
population layout and implements ``generation_step(real)``, which should read like its paper's pseudo-code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import lightning as L
import torch
from torch import Tensor, nn

from ..core.errors import ConfigError, DivergedError, within_bound
from ..engine.capture import GraphedGeneration
from ..engine.population import Population
from ..evolution.losses import discriminator_loss, gradient_penalty, r1_penalty
from ..evolution.tally import OperatorTally
from ..nets import NetSpec, resolve_net
from .api import ApiMixin
from .checkpointing import (
    CHECKPOINT_KEY,
    CHECKPOINT_VERSION,
    CheckpointMixin,
    check_architecture,
    upgrade_checkpoint,
)
from .config import AlgoConfig
from .divergence import DivergenceMixin
from .randomness import RandomnessMixin
from .reporting import ReportingMixin

__all__ = [
    "CHECKPOINT_KEY",
    "CHECKPOINT_VERSION",
    "EvoGANModule",
    "check_architecture",
    "frozen",
    "upgrade_checkpoint",
]


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Temporarily stop gradients to ``module``'s parameters (e.g. D during a generator step)."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(module.parameters(), flags):
            p.requires_grad_(f)


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


class EvoGANModule(
    ApiMixin, ReportingMixin, DivergenceMixin, CheckpointMixin, RandomnessMixin, L.LightningModule
):
    """Base of all algorithms. ``cfg`` is the resolved run config as plain containers:
    ``{"algo": {...}, "net": {...}, "data_info": {"name", "shape", "kind"}, "seed": int, "generations": int}``.
    Its ``algo`` options become ``self.hp``, the algorithm's typed, checked config (``config_class``, from
    algos/config.py; options a checkpoint lacks take the defaults of the code that wrote it).
    """

    algo_name: ClassVar[str] = "base"
    config_class: ClassVar[type[AlgoConfig]] = AlgoConfig  # the typed hyper-parameters (``self.hp``)

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        super().__init__()
        named = (cfg.get("algo") or {}).get("name")
        if self.algo_name != "base" and named not in (None, self.algo_name):
            from . import CLASS_NAMES

            right = CLASS_NAMES.get(named, named)
            raise ConfigError(
                f"this config (or checkpoint) is for algo={named}, not {type(self).__name__}: use "
                f"evogan_lightning.{right}.load_from_checkpoint(...) / {right}.create(...), or "
                "evogan_lightning.load_checkpoint(path) for any algorithm"
            )
        self.save_hyperparameters({"cfg": dict(cfg)})
        self.automatic_optimization = False
        self.cfg = dict(cfg)
        self.data_info: dict[str, Any] = dict(cfg["data_info"])
        self.shape: tuple[int, ...] = tuple(self.data_info["shape"])
        self.seed = int(cfg.get("seed", 0))
        self.max_generations = int(cfg.get("generations", 1))
        self.log_every = int(cfg.get("log_every_n_generations", 10))
        _require(self.max_generations >= 1, f"generations must be >= 1, got {self.max_generations}")
        _require(self.log_every >= 1, f"log_every_n_generations must be >= 1, got {self.log_every}")
        self.hp = self.config_class.build(cfg["algo"])  # the typed, checked hyper-parameters
        try:
            self.net_spec: NetSpec = resolve_net(cfg["net"], self.shape)
        except (ValueError, TypeError) as err:
            raise ConfigError(str(err)) from err
        self.discriminator = self.build_discriminator()
        self.generators = self.build_generators()
        self.generation = 0
        self._tally = OperatorTally()
        self.history: list[dict[str, float]] = []
        self._rng: torch.Generator | None = None
        self._rng_state: Tensor | None = None
        self._rng_device: str | None = None
        self._shared_rng: torch.Generator | None = None
        # device flags, updated in place (no host sync, CUDA-graph safe) and read by check_finite
        self._nonfinite = torch.zeros((), dtype=torch.bool)  # a logged loss went NaN/Inf or beyond EXPLODED
        self._no_survivor = torch.zeros((), dtype=torch.bool)  # every candidate of a generation diverged
        self._graph: GraphedGeneration | None = None
        self._in_generation = False
        self.stop_requested = False  # set by Ctrl-C (console.stop_on_interrupt): stop after this generation
        self._last_stats: dict[str, float] = {}
        self._counts_logged: dict[str, int] = {}  # operator counts at the last logging step

    # ------------------------------------------------------------------ construction (override to change)
    def population_layout(self) -> tuple[int, int]:
        """(parents, child slots) of the generator population."""
        return self.hp.population_size, 0

    def build_discriminator(self) -> nn.Module:
        return self.net_spec.build_discriminator(self.shape)

    def build_generators(self) -> Population:
        parents, children = self.population_layout()
        return Population(
            self.net_spec.generator_factory(self.shape),
            num_parents=parents,
            num_children=children,
            lr=self.hp.lr_g,
            betas=tuple(self.hp.betas),
            independent_init=bool(getattr(self.hp, "independent_init", False)),
        )

    def configure_optimizers(self):
        return torch.optim.Adam(
            self.discriminator.parameters(),
            lr=self.hp.lr_d,
            betas=tuple(self.hp.betas),
            capturable=self.hp.cuda_graph,  # step count on the device, for graph replay
            foreach=True,  # one multi-tensor op per Adam stage (what CUDA picks by default), also on CPU
        )

    @property
    def reals_per_generation(self) -> int:
        """Real samples one generation consumes (the DataModule's batch size). Default: n_D * m."""
        return self.hp.d_steps * self.hp.batch_size

    # ------------------------------------------------------------------ the discriminator step
    def d_step(self, real: Tensor, fake: Tensor) -> Tensor:
        """One Adam step on BCE(D(real), 1) + BCE(D(fake), 0) (+ gp * GP). Real and fake go through D in
        separate calls so batch-norm statistics never mix. Returns the detached loss."""
        opt = self.optimizers()
        d = self.discriminator
        loss = discriminator_loss(d(real), d(fake.detach()))
        gp = self.hp.gradient_penalty
        if gp > 0:
            loss = loss + gp * gradient_penalty(d, real, fake, rng=self.rng)
        r1 = self.hp.r1_penalty
        if r1 > 0:
            loss = loss + 0.5 * r1 * r1_penalty(d, real)
        opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        opt.step()
        return loss.detach()

    def d_steps(self, real: Tensor, fake: Tensor) -> Tensor:
        """n_D discriminator steps on consecutive chunks of ``real`` [n_D*m, ...] and ``fake`` [>= n_D*m, ...].
        Returns the mean D loss."""
        m, n_d = self.hp.batch_size, self.hp.d_steps
        losses = [self.d_step(real[i * m : (i + 1) * m], fake[i * m : (i + 1) * m]) for i in range(n_d)]
        return torch.stack(losses).mean()

    # ------------------------------------------------------------------ training loop glue
    def generation_step(self, real: Tensor) -> dict[str, Tensor]:
        """One generation (evolve G, then n_D D steps). Returns scalar tensors to log."""
        raise NotImplementedError

    def on_fit_start(self) -> None:
        if self.hp.cuda_graph:
            validate_cuda_graph(self)
            self._graph = GraphedGeneration(self.generation_step, self.rng, self.algo_name)

    def on_train_start(self) -> None:
        """Align the restored optimizer state with this run: ``load_state_dict`` brings back the *saved*
        ``capturable`` flag, so a checkpoint of a graphed GPU run would not resume on a CPU (and an eager
        checkpoint could not be captured). Runs after Lightning restored the optimizers."""
        capturable = self.hp.cuda_graph
        for opt in self.trainer.optimizers:
            for group in opt.param_groups:
                group["capturable"] = capturable
            if capturable:  # graph replay needs the step counts on the device, as float32
                for p, state in opt.state.items():
                    if torch.is_tensor(state.get("step")):
                        state["step"] = state["step"].to(device=p.device, dtype=torch.float32)

    def apply_lr_schedule(self) -> None:
        """``algo.lr_schedule=linear``: every learning rate (G population, D optimizer, D population) is its
        configured value times 1 - generation / generations, decaying linearly towards 0 over the run; the
        generation counter is in the checkpoint, so a resumed run continues the same schedule."""
        if self.hp.lr_schedule == "constant":
            return
        scale = 1.0 - self.generation / self.max_generations
        for m in self.modules():
            if isinstance(m, Population):
                base = m.__dict__.setdefault("base_lr", m.lr)
                m.lr = base * scale
        if self._trainer is not None:
            for opt in self.trainer.optimizers:
                for group in opt.param_groups:
                    group["lr"] = group.setdefault("base_lr", group["lr"]) * scale

    def run_generation(self, real: Tensor) -> dict[str, Tensor]:
        """``generation_step(real)``, eagerly or as a replay of its captured CUDA graph (``algo.cuda_graph``)."""
        if self._graph is not None:
            return self._graph(real)
        return self.generation_step(real)

    def training_step(self, batch: Tensor, batch_idx: int) -> None:
        if self.generation >= self.max_generations:
            self.trainer.should_stop = True
            return
        self.generators.train()
        self._flags_to(batch.device)
        self.apply_lr_schedule()
        self._in_generation = True
        try:
            stats = self.run_generation(batch)
        except DivergedError:
            if self.world_size == 1:
                raise
            stats = {
                "loss/diverged": torch.tensor(float("nan"), device=self.device)
            }  # all ranks stop together
        self.sync_populations()
        self._in_generation = False
        self.generation += 1
        losses = [v for k, v in stats.items() if k.startswith("loss/")]
        if losses:
            self._nonfinite.logical_or_(~within_bound(torch.stack(losses)))
        if (
            self.world_size > 1
            or self.generation % self.log_every == 0
            or self.generation >= self.max_generations
        ):
            self.check_finite()
            self.record(stats)
        if self.generation >= self.max_generations or self.stop_requested:
            self.trainer.should_stop = True

    def request_stop(self) -> None:
        """Stop at the end of the current generation (the checkpoint callback then saves it)."""
        self.stop_requested = True

    def sync_populations(self) -> None:
        """Multi-device: survivors are decided on rank 0 and broadcast, so every rank continues from the
        same parents (the discriminator stays in sync through DDP's gradient all-reduce)."""
        if self.world_size > 1:
            for m in self.modules():
                if isinstance(m, Population):
                    m.broadcast_parents(0)


def validate_cuda_graph(module: Any) -> None:
    """Check, before the first generation, that this run (``module``: an ``EvoGANModule`` attached to its
    trainer) can use ``algo.cuda_graph=true``."""
    where = module.device
    if where.type != "cuda":
        raise ConfigError(
            f"algo.cuda_graph=true needs a CUDA device, but this run is on {where.type}. Run on a GPU "
            "(trainer.accelerator=gpu) or drop algo.cuda_graph"
        )
    if module.world_size > 1:
        raise ConfigError(
            "algo.cuda_graph=true runs on one device; with several (DDP) drop algo.cuda_graph or set "
            "trainer.devices=1"
        )
    precision = str(module.trainer.precision)
    if precision not in ("32-true", "32"):
        raise ConfigError(
            f"algo.cuda_graph=true needs trainer.precision=32-true (got {precision}: mixed precision's "
            "loss scaling synchronises with the host every step)"
        )
    if not hasattr(torch.cuda.CUDAGraph, "register_generator_state"):
        raise ConfigError(
            f"algo.cuda_graph=true needs torch >= 2.5 (graph-safe custom random generators); this is torch "
            f"{torch.__version__}. Upgrade torch or drop algo.cuda_graph"
        )
