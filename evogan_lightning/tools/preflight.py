"""Checks of the raw command line that must run before Hydra: Hydra itself would fail on these with a
message that names the wrong fix (``+net.hidden=...`` under ``net=auto``) or with a traceback (a run folder
below a file). Each failure is one line and exit status 2, like the run's own checks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf

from ..core.conf_files import config_dir
from ..core.errors import ConfigError


def _value(argv: Sequence[str], key: str) -> str | None:
    """The last ``key=value`` of ``argv`` (``+key=``/``++key=`` too), or None."""
    found = None
    for arg in argv:
        name, sep, value = arg.lstrip("+").partition("=")
        if sep and name == key:
            found = value
    return found


def _net_family(argv: Sequence[str]) -> str | None:
    """The ``net`` group option this command composes: ``net=``, else the experiment's ``override /net``,
    else conf/config.yaml's default. None when it cannot be told from the command (a sweep over nets)."""
    net = _value(argv, "net")
    if net is None and (experiment := _value(argv, "experiment")):
        path = config_dir() / "experiment" / f"{experiment}.yaml"
        if not path.is_file():
            return None  # Hydra names the missing experiment
        for entry in OmegaConf.to_container(OmegaConf.load(path)).get("defaults", []):  # type: ignore[union-attr]
            if isinstance(entry, dict) and "override /net" in entry:
                net = str(entry["override /net"])
    if net is None:
        defaults = OmegaConf.to_container(OmegaConf.load(config_dir() / "config.yaml"))["defaults"]  # type: ignore[index]
        net = next(str(e["net"]) for e in defaults if isinstance(e, dict) and "net" in e)
    return None if "," in net or not (config_dir() / "net" / f"{net}.yaml").is_file() else net


def check_net_keys(argv: Sequence[str]) -> None:
    """``net.KEY=...`` for a family without KEY (most often the default ``net=auto``, which picks a family
    from the data and has no widths of its own): name the families that have KEY."""
    keys = [a.partition("=")[0] for a in argv if a.startswith("net.") and "=" in a]
    if not keys or (family := _net_family(argv)) is None:
        return
    options = set(OmegaConf.load(config_dir() / "net" / f"{family}.yaml"))
    for key in keys:
        name = key.split(".", 1)[1].split(".")[0]
        if name in options:
            continue
        having = sorted(
            p.stem for p in (config_dir() / "net").glob("*.yaml") if name in set(OmegaConf.load(p))
        )
        fix = (
            f"choose a family that has it: {', '.join(f'net={h}' for h in having)} (e.g. net={having[0]} {key}=...)"
            if having
            else f"its options: {sorted(options - {'name'})}"
        )
        hint = (
            " (net=auto picks a family from the data and has no options of its own)"
            if family == "auto"
            else ""
        )
        raise ConfigError(f"net={family} has no option {name!r}{hint}; {fix}")


def check_run_dir(argv: Sequence[str]) -> None:
    """``hydra.run.dir`` (or ``hydra.sweep.dir``) below an existing file cannot be created."""
    for key in ("hydra.run.dir", "hydra.sweep.dir"):
        value = _value(argv, key)
        if not value or "$" in value:
            continue
        for parent in [Path(value), *Path(value).parents]:
            if parent.exists() and not parent.is_dir():
                raise ConfigError(f"{key}={value}: {parent} is a file, not a folder; choose another {key}")


def preflight(argv: Sequence[str]) -> None:
    """Every check above, on the command line's overrides (``sys.argv[1:]``)."""
    check_net_keys(argv)
    check_run_dir(argv)
