"""The typed hyper-parameters of every algorithm: one dataclass per algorithm, the schema of its
``conf/algo/<name>.yaml``.

Each dataclass is registered in Hydra's ConfigStore as ``schema/algo/<name>``, and the YAML file composes on
top of it (``defaults: [/schema/algo/<name>@_here_, _self_]``), so a composed config already has every field,
a value of the wrong type and an unknown key (``algo.KEY=...``) are refused by Hydra, and the module reads
``self.hp.gamma``. ``AlgoConfig.build`` makes the dataclass from plain options (a composed config, a
checkpoint's ``hyper_parameters``): unknown keys (``+algo.KEY=...`` too) and wrong types are refused there
with a suggestion, and ``__post_init__`` checks each field's choices and range (``option``) and the
cross-field rules (``check``) before a module is built.

Two kinds of default, kept apart on purpose: a field's default here is the value a run got when its
config did not name the option, i.e. what a checkpoint written before the option existed ran with; it must
never change, or old checkpoints would resume differently (tests/integration/test_old_checkpoint.py). The
toy defaults of new runs are the values in ``conf/algo/<name>.yaml``, which override these (e.g. CE-GAN:
``distill_step`` is ``adam`` here and ``line_search`` in the YAML).

Why ``conf/algo`` has no ``_target_`` (unlike the other groups): the schema registration gives the typed
config, and the module class follows from ``algo.name`` (``algos.get_algorithm``) and is built with the whole
module config (nets, data shape, seed), not with the algo options alone; a ``_target_`` key would be a second
name for the class, stored in every checkpoint's options, which old checkpoints lack.
"""

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from typing import Any, ClassVar, get_type_hints

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf
from omegaconf.errors import MissingMandatoryValue, ValidationError

from ..core.errors import ConfigError
from ..engine.backend import BACKENDS, DEFAULT_DISTILL_STEP, DISTILL_STEPS
from ..evolution import genetic
from ..evolution.crossover import (
    CROSSOVER_START,
    CROSSOVER_TEACHERS,
    DISTILL_REDUCTIONS,
    max_crossover_children,
)
from ..evolution.losses import GENERATOR_LOSSES
from .memory import check_eval_batch_size

LOSSES = tuple(GENERATOR_LOSSES)
LR_SCHEDULES = ("constant", "linear")
LEAST_SQUARES_ON = ("logit", "prob")


def option(
    default: Any = MISSING,
    *,
    choices: tuple[str, ...] | None = None,
    must: str = "",
    ok: Callable[[Any], bool] | None = None,
    what: str = "",
    unique: bool = False,
) -> Any:
    """A dataclass field with its checks: ``choices`` (for a list: every entry, non-empty, once each when
    ``unique``), or ``ok(value)`` with the message ``algo.KEY (what) must be MUST, got VALUE``."""
    meta = {"choices": choices, "must": must, "ok": ok, "what": what, "unique": unique}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def at_least(low: float) -> Callable[[Any], bool]:
    """A finite number >= ``low``."""
    return lambda v: math.isfinite(v) and v >= low


def _check_field(f: Field, value: Any) -> None:
    meta, key = f.metadata, f"algo.{f.name}"
    if value is None or value == MISSING:  # null where the type allows it; MISSING: not built from a config
        return
    choices = meta.get("choices")
    if choices is not None and isinstance(value, list):
        if not value:
            raise ConfigError(f"{key} must be a non-empty list of {list(choices)}, got []")
        unknown = [v for v in value if v not in choices]
        if unknown:
            raise ConfigError(f"unknown {key} {unknown}; choose from {list(choices)}")
        twice = [v for i, v in enumerate(value) if v in value[:i]]
        if meta["unique"] and twice:
            raise ConfigError(f"{key} lists {twice[0]!r} twice: {list(value)}; give each once")
    elif choices is not None and value not in choices:
        raise ConfigError(f"unknown {key} {value!r}; choose one of {list(choices)}")
    if meta.get("ok") is not None and not meta["ok"](value):
        what = f" ({meta['what']})" if meta["what"] else ""
        raise ConfigError(f"{key}{what} must be {meta['must']}, got {value!r}")


_TYPE_WORDS = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "a string",
    float | None: "a number or null",
    list[float]: "a list of numbers",
    list[str]: "a list of names",
}


@dataclass
class AlgoConfig:
    """What every algorithm has: the population, the D steps, batch sizes, Adam and the D loss terms."""

    graph_capturable: ClassVar[bool] = True  # generation step without host syncs: algo.cuda_graph allowed

    name: str = MISSING
    population_size: int = option(1, must=">= 1 (a whole number)", ok=at_least(1))  # mu
    d_steps: int = option(must=">= 1 (a whole number)", ok=at_least(1))  # n_D
    batch_size: int = option(must=">= 1 (a whole number)", ok=at_least(1))  # m
    lr_g: float = option(must="a finite number > 0", ok=lambda v: 0 < v < float("inf"))
    lr_d: float = option(must="a finite number > 0", ok=lambda v: 0 < v < float("inf"))
    lr_schedule: str = option("constant", choices=LR_SCHEDULES)
    betas: list[float] = option(
        [0.5, 0.999], must="two numbers in [0, 1)", ok=lambda b: len(b) == 2 and all(0 <= x < 1 for x in b)
    )
    gradient_penalty: float = option(0.0, must="a number >= 0 (0 = off)", ok=at_least(0))
    r1_penalty: float = option(0.0, must="a number >= 0 (0 = off)", ok=at_least(0))
    cuda_graph: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_field(f, getattr(self, f.name))
        self.check()

    def check(self) -> None:
        """The cross-field rules (after every field passed its own check)."""
        if self.cuda_graph and not self.graph_capturable:
            raise ConfigError(
                f"algo.cuda_graph=true is not supported by algo={self.name} (its generation makes host-side "
                "decisions); it is available for gan, egan and cegan. Drop algo.cuda_graph"
            )
        if self.cuda_graph and self.lr_schedule != "constant":
            raise ConfigError(
                "algo.cuda_graph=true replays fixed learning rates, so it cannot follow algo.lr_schedule="
                f"{self.lr_schedule} (the toy default); add algo.lr_schedule=constant"
            )

    def need_eval_samples(self, n: int) -> None:
        """The survivors' n evaluation samples each are the D steps' fakes: mu * n >= n_D * m."""
        check_eval_batch_size(n)
        need = self.d_steps * self.batch_size
        if self.population_size * n < need:
            from .memory import MAX_EVAL_BATCH_SIZE

            fits = -(-need // self.population_size)  # the eval_batch_size that would cover the D steps
            fix = (
                f"raise algo.eval_batch_size to {fits}"
                if fits <= MAX_EVAL_BATCH_SIZE
                else f"lower algo.batch_size (at most {self.population_size * MAX_EVAL_BATCH_SIZE // self.d_steps}"
                f" with eval_batch_size at its maximum {MAX_EVAL_BATCH_SIZE}) or algo.d_steps"
            )
            raise ConfigError(
                f"the D steps need d_steps * batch_size = {need} fake samples but the survivors' evaluation "
                f"samples are only population_size * eval_batch_size = {self.population_size * n}; {fix}"
            )

    @classmethod
    def build(cls, options: Mapping[str, Any]) -> "AlgoConfig":
        """The typed, checked config from plain ``options`` (absent keys take the field defaults)."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(options) - set(known))
        if unknown:
            hints = [
                f"{k} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(k, known, 1)) else k
                for k in unknown
            ]
            raise ConfigError(
                f"unknown algo option(s) for algo={cls.name}: {', '.join(hints)}; valid: {sorted(known)}"
            )
        try:
            return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(cls), dict(options)))  # type: ignore[return-value]
        except MissingMandatoryValue as err:
            raise ConfigError(f"algo.{err.full_key} is required; add algo.{err.full_key}=...") from err
        except ValidationError as err:
            hint = get_type_hints(cls).get(str(err.full_key).split("[")[0])
            words = _TYPE_WORDS.get(hint, str(hint))
            raise ConfigError(f"algo.{err.full_key} must be {words}, got {err.value!r}") from err


@dataclass
class GANConfig(AlgoConfig):
    """Single-loss baseline GAN (algos/gan.py)."""

    name: str = "gan"
    loss: str = option("heuristic", choices=LOSSES)
    least_squares_on: str = option("logit", choices=LEAST_SQUARES_ON)

    def check(self) -> None:
        super().check()
        if self.population_size != 1:
            raise ConfigError("algo=gan trains exactly one generator; set algo.population_size=1")


@dataclass
class EGANConfig(AlgoConfig):
    """E-GAN (algos/egan.py)."""

    name: str = "egan"
    mutations: list[str] = option(["minimax", "heuristic", "least_squares"], choices=LOSSES, unique=True)
    least_squares_on: str = option("logit", choices=LEAST_SQUARES_ON)
    gamma: float = option(
        0.01, what="the diversity weight of the fitness", must="finite and >= 0", ok=at_least(0)
    )
    fitness: str = option("egan", choices=("egan", "cegan"))
    eval_batch_size: int = option(
        256, what="n, fitness samples per child", must="an integer >= 2", ok=lambda n: n >= 2
    )
    independent_init: bool = False
    backend: str = option("auto", choices=BACKENDS)

    def check(self) -> None:
        super().check()
        self.need_eval_samples(self.eval_batch_size)


@dataclass
class CEGANConfig(EGANConfig):
    """CE-GAN (algos/cegan.py)."""

    name: str = "cegan"
    fitness: str = option("cegan", choices=("cegan", "egan"))
    n_c: int = option(1, what="crossover children per generation", must="an integer >= 0", ok=at_least(0))
    distill_reduction: str = option("mean", choices=DISTILL_REDUCTIONS)
    crossover_start: str = option("fitter", choices=CROSSOVER_START)
    distill_step: str = option(
        DEFAULT_DISTILL_STEP, choices=tuple(DISTILL_STEPS)
    )  # engine/backend.py dispatches
    crossover_optimizer: str = option("inherit", choices=("inherit", "reset"))
    crossover_teacher: str = option("filtered", choices=CROSSOVER_TEACHERS)
    selection: str = option("comprehensive", choices=("comprehensive", "children_only", "with_parents"))

    def check(self) -> None:
        super().check()
        mutants = self.population_size * len(self.mutations)
        limit = max_crossover_children(mutants)
        if self.n_c > limit:
            raise ConfigError(
                f"algo.n_c={self.n_c} exceeds the number of mutant pairs: at most C(population_size * "
                f"n_mutations, 2) = C({mutants}, 2) = {limit} crossover children; set algo.n_c <= {limit}"
            )
        if self.selection == "children_only" and self.n_c < self.population_size:
            raise ConfigError(
                f"algo.selection=children_only keeps only crossover children, so algo.n_c must be >= "
                f"population_size = {self.population_size}, got n_c={self.n_c}"
            )


@dataclass
class GAGANConfig(AlgoConfig):
    """GAGAN (algos/gagan.py): the D population's genetic algorithm."""

    graph_capturable: ClassVar[bool] = False

    name: str = "gagan"
    num_discriminators: int = option(10, must="an integer >= 2 (a GA needs a population)", ok=at_least(2))
    ga_every: int = option(2, must="an integer >= 1 (iterations between GA steps)", ok=at_least(1))
    elite_fraction: float = option(0.3, must="in (0, 1) (share of Ds kept unchanged)", ok=lambda v: 0 < v < 1)
    parent_selection: str = option("uniform", choices=genetic.PARENT_SELECTIONS)
    tournament_size: int = option(3, must="an integer >= 1", ok=at_least(1))
    crossover: str = option("per_tensor", choices=genetic.CROSSOVER_MODES)
    mutation_rate: float = option(0.05, must="in [0, 1] (probability per weight)", ok=lambda v: 0 <= v <= 1)
    mutation_std: float = option(0.05, must=">= 0", ok=at_least(0))
    mutation_scope: str = option("weights", choices=genetic.MUTATION_SCOPES)
    fitness: str = option("paper", choices=genetic.FITNESS_KINDS)
    optimizer_after_ga: str = option("reset", choices=genetic.OPTIMIZER_AFTER_GA)
    generator_target: str = option("best", choices=("best", "ensemble"))
    independent_init_d: bool = True
    g_grad_clip: float | None = option(None, must="null/0 (off) or a max norm > 0", ok=lambda v: v >= 0)
    label_smoothing: float | None = option(
        None, must="null/1.0 (off) or a real-label target in (0, 1)", ok=lambda v: 0 < v <= 1
    )
    input_noise: float | None = option(
        0.0, must=">= 0 (std of noise added to D inputs, 0 = off)", ok=at_least(0)
    )

    def check(self) -> None:
        super().check()
        if self.population_size != 1:
            raise ConfigError(
                "algo=gagan trains one generator; set algo.population_size=1 "
                "(the D population size is algo.num_discriminators)"
            )


@dataclass
class SCGANConfig(AlgoConfig):
    """Stochastic-crossover GAN (algos/scgan.py)."""

    graph_capturable: ClassVar[bool] = False

    name: str = "scgan"
    population_size: int = option(4, must=">= 1 (a whole number)", ok=at_least(1))
    offspring_per_parent: int = option(2, must="an integer >= 1", ok=at_least(1))
    p_cross: float = option(0.2, must="a probability in [0, 1]", ok=lambda p: 0 <= p <= 1)
    crossover_mode: str = option("imitate", choices=("imitate", "relativistic", "straight_through"))
    mutations: list[str] = option(["heuristic"], choices=LOSSES)
    fitness: str = option("logit", choices=("logit", "egan"))
    gamma: float = option(0.01, what="the diversity weight of fitness=egan", must=">= 0", ok=at_least(0))
    eval_batch_size: int = option(256, must="an integer >= 1", ok=at_least(1))
    independent_init: bool = False

    def check(self) -> None:
        super().check()
        if self.population_size < 2:
            raise ConfigError(
                "algo=scgan needs algo.population_size >= 2 (crossover takes a partner from the other "
                f"parents), got {self.population_size}"
            )
        self.need_eval_samples(self.eval_batch_size)


CONFIGS: dict[str, type[AlgoConfig]] = {
    "gan": GANConfig,
    "egan": EGANConfig,
    "cegan": CEGANConfig,
    "gagan": GAGANConfig,
    "scgan": SCGANConfig,
}


def register_schemas() -> None:
    """Store every algorithm's dataclass as ``schema/algo/<name>`` in Hydra's ConfigStore (the schema the
    ``conf/algo/<name>.yaml`` files name in their defaults list). Idempotent."""
    store = ConfigStore.instance()
    for name, cls in CONFIGS.items():
        store.store(group="schema/algo", name=name, node=cls)


register_schemas()

__all__ = ["CONFIGS", "AlgoConfig", "option", "register_schemas"]
