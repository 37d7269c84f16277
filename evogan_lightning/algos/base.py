"""The shared base LightningModule of every algorithm.

It owns what all algorithms share: manual optimisation, the generator population store, the
discriminator and its step (BCE + optional gradient penalty), the noise source, the generation counter,
logging with ``generation`` as the x-axis, full-state checkpoint hooks, divergence checks, and the
public ``sample(n, individual=None)`` API. An algorithm subclass declares its population layout and
implements ``generation_step(real)``, which should read like its paper's pseudo-code.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import lightning as L
import torch
from torch import Tensor, nn

from ..data.stream import stream_seed
from ..engine.capture import GraphedGeneration, validate_cuda_graph
from ..engine.population import Population
from ..evolution.losses import discriminator_loss, gradient_penalty, r1_penalty
from ..evolution.selection import ALL_DIVERGED
from ..evolution.tally import OperatorTally
from ..nets import NetSpec, effective_options, resolve_net
from ..run.errors import DIVERGENCE_ADVICE, EXPLODED, ConfigError, DivergedError, within_bound
from .config import AlgoConfig

CHECKPOINT_KEY = "evogan"
CHECKPOINT_VERSION = 2  # 2: architecture holds the net options with defaults filled in (2026-12-03)


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


_SHARED_STREAM = 0x5EED  # stream_seed key of the rank-shared decision stream (see shared_rng)


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


class EvoGANModule(L.LightningModule):
    """Base of all algorithms. ``cfg`` is the resolved run config as plain containers:
    ``{"algo": {...}, "net": {...}, "data_info": {"name", "shape", "kind"}, "seed": int, "generations": int}``.
    Its ``algo`` options become ``self.hp``, the algorithm's typed, checked config (``config_class``, from
    algos/config.py; options a checkpoint lacks take the defaults of the code that wrote it).
    """

    records: tuple[str, ...] = ()  # buffers that only hold statistics for the logs (NaN = not yet)

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

    @classmethod
    def create(
        cls,
        data: str | Mapping[str, Any] = "ring8",
        net: str | Mapping[str, Any] = "auto",
        generations: int = 7000,
        seed: int = 0,
        log_every_n_generations: int = 10,
        **algo_options: Any,
    ) -> EvoGANModule:
        """The algorithm from Python, without Hydra: its defaults (``conf/algo/<name>.yaml``, as the command
        line has them) with ``algo_options`` on top, checked by its typed config (``algos/config.py``).

        ``data``/``net``: a config name (``"ring8"``, ``"fashion_mnist"``; ``"auto"``, ``"mnist28"``) or a
        dict (``{"name": "fashion_mnist", "root": DIR}``: the named config's keys with these on top). Train it
        with ``lightning.Trainer(max_epochs=-1).fit(model, model.datamodule())``.
        """
        from ..run.conf_files import config_file

        def group(name: str, value: str | Mapping[str, Any]) -> dict[str, Any]:
            given = {"name": value} if isinstance(value, str) else dict(value)
            return {**config_file(name, str(given.get("name"))), **given}

        algo = {**config_file("algo", cls.algo_name), **algo_options}
        data_cfg, net_cfg = group("data", data), group("net", net)
        from ..data.datamodule import data_shape

        try:
            shape = list(data_shape(data_cfg))
        except ValueError as err:
            raise ConfigError(str(err)) from err
        kind = "toy" if len(shape) == 1 else "image"
        cfg = {
            "algo": algo,
            "net": net_cfg,
            "data": data_cfg,
            "data_info": {"name": data_cfg["name"], "shape": shape, "kind": kind},
            "seed": int(seed),
            "generations": int(generations),
            "log_every_n_generations": int(log_every_n_generations),
        }
        return cls(cfg)

    def datamodule(self, num_workers: int = 0) -> Any:
        """The ``GANDataModule`` of this model's data, seed and batch size (``reals_per_generation``)."""
        from ..data.datamodule import GANDataModule

        return GANDataModule(
            self.cfg["data"], seed=self.seed, num_workers=num_workers, batch_size=self.reals_per_generation
        )

    @property
    def reals_per_generation(self) -> int:
        """Real samples one generation consumes (the DataModule's batch size). Default: n_D * m."""
        return self.hp.d_steps * self.hp.batch_size

    # ------------------------------------------------------------------ randomness
    @property
    def rank(self) -> int:
        return int(self.trainer.global_rank) if self._trainer is not None else 0

    @property
    def world_size(self) -> int:
        return int(self.trainer.world_size) if self._trainer is not None else 1

    @property
    def rng(self) -> torch.Generator:
        """The run's own random stream (noise, interpolation, choices) on the module's device.
        Saved in checkpoints, so a resumed run draws exactly what an uninterrupted one would. With several
        devices each rank draws its own stream (rank 0's is the one saved; other ranks derive theirs from
        the seed, their rank and the generation, so a checkpoint resumes on any device count)."""
        dev = self.device
        if self._rng is None or self._rng.device != dev:
            g = torch.Generator(device=dev)
            if self.rank > 0:
                g.manual_seed(stream_seed(self.seed, self.generation, self.rank))
            elif self._rng_state is not None and (self._rng_device == str(dev)):
                g.set_state(self._rng_state)
            else:
                g.manual_seed(self.seed)
            self._rng, self._rng_state = g, None
        return self._rng

    @property
    def shared_rng(self) -> torch.Generator:
        """The stream for evolutionary *decisions* every rank must make alike (GA parents/crossover/mutation
        of the D population, SCGAN's crossover coin flips and partners). On one device it is ``rng`` itself,
        so single-device results do not depend on this split; with several ranks it is seeded identically on
        all of them from (seed, generation at start), while ``rng`` (noise) stays per rank."""
        if self.world_size == 1:
            return self.rng
        dev = self.device
        if self._shared_rng is None or self._shared_rng.device != dev:
            self._shared_rng = torch.Generator(device=dev)
            self._shared_rng.manual_seed(stream_seed(self.seed, self.generation, _SHARED_STREAM))
        return self._shared_rng

    def mean_over_ranks(self, t: Tensor) -> Tensor:
        """Mean of ``t`` over all ranks (a new tensor; ``t`` itself on one device). Fitness is reduced this
        way, so every rank ranks the candidates alike: a mean-over-samples fitness over the union of the
        ranks' evaluation batches. A NaN on any rank makes the entry NaN everywhere."""
        if self.world_size == 1:
            return t
        return self.trainer.strategy.reduce(t.clone(), reduce_op="mean")

    def make_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Latent vectors [n, latent_dim]: N(0, 1) or U(-1, 1) per ``net.noise``."""
        gen = self.rng if generator is None else generator
        shape = (n, self.net_spec.latent_dim)
        if self.net_spec.noise == "uniform":
            return torch.rand(shape, generator=gen, device=gen.device).mul_(2).sub_(1)
        return torch.randn(shape, generator=gen, device=gen.device)

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
            self._graph = GraphedGeneration(self)

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

    def _flags_to(self, device: torch.device) -> None:
        if self._nonfinite.device != device:
            self._nonfinite = self._nonfinite.to(device)
            self._no_survivor = self._no_survivor.to(device)

    def flag_survivors(self, finite: Tensor) -> None:
        """Note (on the device, no sync) whether any candidate of this generation was finite (``finite`` [K]
        from ``top_mu``); ``check_finite`` stops the run if none was."""
        self._flags_to(finite.device)
        self._no_survivor.logical_or_(~finite.any())

    def check_finite(self) -> None:
        """Raise DivergedError if any loss since the start went NaN/Inf or every candidate of a generation
        diverged (one sync with the device; run at logging and before every checkpoint). With several ranks
        the flags are max-reduced first, so all ranks stop together."""
        flags = torch.stack([self._nonfinite, self._no_survivor.to(self._nonfinite.device)])
        if self.world_size > 1:
            flags = self.trainer.strategy.reduce(flags.float(), reduce_op="max") > 0
        nonfinite, no_survivor = flags.tolist()
        if no_survivor:
            raise DivergedError(f"{ALL_DIVERGED} (detected at generation {self.generation})")
        if nonfinite:
            raise DivergedError(
                f"training diverged (a NaN/Inf loss, or one beyond {EXPLODED:.0e}) by generation "
                f"{self.generation}. {DIVERGENCE_ADVICE}"
            )

    @torch.no_grad()
    def state_is_finite(self) -> bool:
        """Whether everything a checkpoint would hold can be trusted (one host sync; run before each save):
        every population's parents (``Population.state_finite``), the discriminator's parameters and buffers,
        and the moments of every optimizer (not the ``records`` buffers: log statistics, NaN until set). A
        finite loss does not prove it (a 1e36 loss passes)."""
        checks = [m.state_finite() for m in self.modules() if isinstance(m, Population)]
        populated = {
            id(t)
            for m in self.modules()
            if isinstance(m, Population)
            for t in (*m.parameters(), *m.buffers())
        }
        tensors = [
            t
            for name, t in (*self.named_parameters(), *self.named_buffers())
            if id(t) not in populated and name not in self.records
        ]
        squared = []
        if self._trainer is not None:
            for opt in self.trainer.optimizers:
                for state in opt.state.values():
                    for key, v in state.items():
                        if torch.is_tensor(v):
                            (squared if key == "exp_avg_sq" else tensors).append(v)
        checks += [within_bound(t) for t in tensors if t.is_floating_point()]
        checks += [within_bound(t, square=True) for t in squared if t.is_floating_point()]
        return bool(torch.stack([c.to(self._nonfinite.device) for c in checks]).all()) if checks else True

    def record(self, stats: Mapping[str, Tensor | float]) -> None:
        """Send scalar stats to the progress bar, to Lightning (``trainer.callback_metrics``: what
        ``ModelCheckpoint(monitor=...)`` and ``EarlyStopping`` read) and to every logger, with ``generation``
        as the step. Operators that produced survivors since the last logging step go along as shares
        (``operators/<name>``): a time series of which operator wins (CE-GAN's Fig. 6)."""
        row = {k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in stats.items()}
        row.update(self._operator_shares())
        row["generation"] = float(self.generation)
        self._last_stats = row
        self.history.append(row)
        bar = {k.split("/")[-1]: v for k, v in row.items() if k.startswith("loss/")}
        for k, v in bar.items():
            self.log(k, v, prog_bar=True, logger=False, on_step=True, on_epoch=False)
        self.publish(row)
        for logger in self.loggers:
            logger.log_metrics(row, step=self.generation)

    def publish(self, row: Mapping[str, float]) -> None:
        """Put ``row`` (host floats) into Lightning's ``callback_metrics`` without logging it again."""
        if self._trainer is None:
            return
        values = {k: float(v) for k, v in row.items() if k != "generation" and math.isfinite(float(v))}
        self.log_dict(values, logger=False, on_step=True, on_epoch=False, batch_size=1)

    def _operator_shares(self) -> dict[str, float]:
        """Survivor share per operator since the last logging step (``{}`` for algorithms without operators);
        the counts at that step are kept in checkpoints, so a resumed run logs what an uninterrupted one does."""
        now = self.operator_counts
        delta = {k: v - self._counts_logged.get(k, 0) for k, v in now.items()}
        total = sum(delta.values())
        self._counts_logged = dict(now)
        return {f"operators/{k}": v / total for k, v in sorted(delta.items())} if total > 0 else {}

    def count_operators(self, names: list[str]) -> None:
        """Add the operators that produced this generation's survivors (names on the host) to the counts."""
        self._tally.add_names(names)

    def count_survivors(self, operators: list[str], chosen: Tensor) -> None:
        """Add the operators of the chosen candidates to the counts on the device (no host sync).
        ``operators``: the operator of each candidate [K]; ``chosen``: LongTensor [mu] of candidate indices."""
        self._tally.add(operators, chosen)

    @property
    def operator_counts(self) -> dict[str, int]:
        """Survivors per operator since the start of the run (one device sync to read)."""
        return self._tally.as_dict()

    @operator_counts.setter
    def operator_counts(self, counts: Mapping[str, int]) -> None:
        self._tally.reset(counts)

    # ------------------------------------------------------------------ public API
    @torch.no_grad()
    def sample(
        self,
        n: int,
        individual: int | None = None,
        z: Tensor | None = None,
        generator: torch.Generator | None = None,
        batch_size: int = 1024,
    ) -> Tensor:
        """``n`` samples [n, *shape] on the CPU from one parent (the fittest by default), in eval mode,
        generated in chunks of ``batch_size``. ``z`` [n, latent] fixes the noise; otherwise it is drawn
        from ``generator`` (default: a fresh generator seeded with the run seed, so the training stream
        is untouched)."""
        idx = self.generators.best_index() if individual is None else int(individual)
        if not 0 <= idx < self.generators.num_parents:
            raise ValueError(f"individual must be in [0, {self.generators.num_parents}), got {individual}")
        net = self.generators.member(idx)
        was_training = net.training
        net.eval()
        if generator is None and z is None:
            generator = torch.Generator(device=self.device).manual_seed(self.seed)
        out = []
        try:
            for start in range(0, n, batch_size):
                k = min(batch_size, n - start)
                zz = z[start : start + k].to(self.device) if z is not None else self.make_noise(k, generator)
                out.append(net(zz).float().cpu())
        finally:
            net.train(was_training)
        return torch.cat(out) if out else torch.empty(0, *self.shape)

    def best_individual(self) -> int:
        return self.generators.best_index()

    def final_metrics(self) -> dict[str, float]:
        """Flat metrics for metrics.json: generation, last logged stats, operator shares."""
        out: dict[str, float] = {"generation": float(self.generation)}
        out.update({k: v for k, v in self._last_stats.items() if k != "generation"})
        total = sum(self.operator_counts.values())
        for name, count in sorted(self.operator_counts.items()):
            out[f"operator_share/{name}"] = count / total if total else 0.0
        return out

    # ------------------------------------------------------------------ checkpoints
    def architecture(self) -> dict[str, Any]:
        """What must match for a checkpoint to be loadable into this module."""
        parents, _ = self.population_layout()
        return {
            "algo": self.algo_name,
            "net": self.net_spec.name,
            "latent_dim": self.net_spec.latent_dim,
            "net_options": effective_options(self.net_spec.name, self.net_spec.options),
            "shape": list(self.shape),
            "population_size": parents,
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[CHECKPOINT_KEY] = {
            "version": CHECKPOINT_VERSION,
            "architecture": self.architecture(),
            "generation": self.generation,
            "rng_state": self.rng.get_state(),
            "rng_device": str(self.rng.device),
            "operator_counts": dict(self.operator_counts),
            "operator_counts_logged": dict(self._counts_logged),
            "history": list(self.history),
            "last_stats": dict(self._last_stats),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = upgrade_checkpoint(checkpoint).get(CHECKPOINT_KEY)
        if state is None:
            raise ConfigError("this checkpoint was not written by evogan_lightning (no 'evogan' section)")
        mismatch = check_architecture(state["architecture"], self.architecture())
        if mismatch:
            raise ConfigError(mismatch)
        self.generation = int(state["generation"])
        self._rng, self._rng_state = None, state["rng_state"]
        self._rng_device = state.get("rng_device")
        self.operator_counts = dict(state.get("operator_counts", {}))
        self._counts_logged = dict(state.get("operator_counts_logged", state.get("operator_counts", {})))
        self.history = list(state.get("history", []))
        self._last_stats = dict(state.get("last_stats", {}))


def upgrade_checkpoint(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """Bring a checkpoint of an earlier version up to this one, in place (and return it). Version 1 stored the
    net options as typed (``{}`` for ``net=auto``), so its family defaults are the ones of that time: a toy
    MLP written then is 512 units wide (``mlp.LEGACY_DEFAULTS``), and keeps loading after the default width
    changed."""
    state = checkpoint.get(CHECKPOINT_KEY)
    if not isinstance(state, dict) or int(state.get("version", 1)) >= 2:
        return checkpoint
    from ..nets import mlp

    arch = state["architecture"]
    if arch.get("net") == "mlp":
        legacy = {**mlp.LEGACY_DEFAULTS, **(arch.get("net_options") or {})}
        arch["net_options"] = legacy
        cfg = checkpoint.get("hyper_parameters", {}).get("cfg")
        if isinstance(cfg, dict):
            cfg["net"] = {**dict(cfg.get("net") or {}), "name": "mlp", **legacy}
    state["version"] = CHECKPOINT_VERSION
    return checkpoint


def check_architecture(saved: Mapping[str, Any], current: Mapping[str, Any]) -> str | None:
    """A message naming every difference between a checkpoint's architecture and the current one."""
    saved, current = dict(saved), dict(current)
    if saved.get("net") == current.get("net"):  # compare options with the family's defaults filled in
        for arch in (saved, current):
            arch["net_options"] = effective_options(str(arch["net"]), arch.get("net_options") or {})
    diffs = [
        f"{k}: checkpoint {saved.get(k)!r} vs config {current.get(k)!r}"
        for k in current
        if saved.get(k) != current.get(k)
    ]
    if not diffs:
        return None
    return (
        "the checkpoint does not match this configuration (" + "; ".join(diffs) + "). Resume with the "
        "checkpoint's own settings (drop the overrides that change them) or start a new run without ckpt_path."
    )
