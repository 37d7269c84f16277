"""Where the Hydra configs live, and composing them outside the CLI (tests, notebooks). Composing needs the
algorithms' typed schemas (``algos/config.py``), so this module sits above ``algos`` in the import layers."""

from __future__ import annotations

from collections.abc import Sequence

from omegaconf import DictConfig

from ..core.conf_files import config_dir, config_file  # noqa: F401 (re-exported: the documented place)


def compose(overrides: Sequence[str] = (), output_dir: str | None = None) -> DictConfig:
    """Compose the run config as the CLI would (``overrides`` like ``["algo=gan", "generations=10"]``)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    from ..algos.config import register_schemas

    register_schemas()  # conf/algo/*.yaml compose on the typed schemas in Hydra's ConfigStore
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = hydra_compose(config_name="config", overrides=list(overrides))
    if output_dir is not None:
        OmegaConf.set_struct(cfg, False)
        cfg.output_dir = str(output_dir)
    return cfg


GROUPS = ("algo", "data", "net", "trainer", "logger", "callbacks")
HINTS = {"device": "trainer.accelerator=cpu|gpu (and trainer.devices=N)", "epochs": "generations=N"}


def _suggest(key: str, valid: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(valid), n=1)
    hint = HINTS.get(key) or (close[0] if close else None)
    return f" (did you mean {hint}?)" if hint else ""


def check_keys(cfg: dict) -> None:
    """Refuse keys that nothing reads (``+generationz=5``, ``+device=cuda``, ``+data.image_size=32`` on toy
    data): top-level keys must be those of ``conf/config.yaml`` or a config group, and ``data.*`` keys those
    of the chosen data set's ``conf/data/<name>.yaml``. ConfigError with the valid keys."""
    from omegaconf import OmegaConf

    from ..core.errors import ConfigError

    primary = OmegaConf.load(config_dir() / "config.yaml")
    valid = {k for k in primary if k not in ("defaults", "hydra")} | set(GROUPS) | {"hydra"}
    unknown = sorted(set(cfg) - valid)
    if unknown:
        raise ConfigError(
            f"unknown top-level key(s) {unknown}{_suggest(unknown[0], sorted(valid))}; nothing reads them. "
            f"Valid: {sorted(valid - {'hydra'})} and each group's keys (algo.*, data.*, net.*, ...)"
        )
    data = cfg.get("data") or {}
    spec = config_dir() / "data" / f"{data.get('name')}.yaml"
    if spec.is_file():
        known = set(OmegaConf.load(spec)) | {
            "batch_size"
        }  # batch_size: set by the algorithm (reals per generation)
        extra = sorted(set(data) - known)
        if extra:
            raise ConfigError(
                f"data={data['name']} has no option(s) {extra}{_suggest(extra[0], sorted(known - {'batch_size'}))}; its options: "
                f"{sorted(known - {'batch_size'})}"
            )
