"""The config files on disk (``conf/``): where they are, and one group option's plain values. The lowest
layer (no Hydra composition), so that ``algos`` can build a module from its defaults without Hydra."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent.parent  # the evogan_lightning package (this file is run/conf_files.py)


def config_dir() -> Path:
    """The ``conf/`` tree: shipped inside the wheel as ``evogan_lightning/conf``; in a source checkout (or an
    editable install) the top-level ``conf/`` next to the package."""
    for candidate in (_PKG / "conf", _PKG.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"evogan_lightning configs not found (looked in {_PKG / 'conf'} and {_PKG.parent / 'conf'}); "
        "reinstall the package (pip install evogan-lightning) or run from the source tree"
    )


def config_file(group: str, name: str) -> dict:
    """The plain values of ``conf/<group>/<name>.yaml`` (its Hydra ``defaults`` list left out): the defaults
    the command line composes, for building from Python without Hydra. ConfigError for an unknown name."""
    from omegaconf import OmegaConf

    from .errors import ConfigError

    path = config_dir() / group / f"{name}.yaml"
    if not path.is_file():
        options = sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))
        raise ConfigError(f"unknown {group} {name!r}; choose one of {options}")
    values = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    values.pop("defaults", None)  # type: ignore[union-attr]
    return values  # type: ignore[return-value]
