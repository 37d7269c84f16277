"""The settings of a resumed run: the checkpoint's own, with only the overrides typed on top.

``python -m evogan_lightning ckpt_path=RUN/checkpoints/last.ckpt generations=N`` continues that run as it
was trained (its algorithm, nets, data and seed are stored in the checkpoint), so the original command's
overrides need not be repeated. A typed override that would change what is trained (another dataset, a
different ``algo.n_c``, another seed) is an error rather than a silent change of experiment; a few keys that
do not change the results may differ (``CHANGEABLE``: where the data live, the execution backend).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.errors import ConfigError

SECTIONS = ("algo", "net", "data")
# May differ from the checkpoint: they do not change what is trained (the backends give the same results).
CHANGEABLE = frozenset({"data.root", "data.download", "data.num_workers", "algo.backend", "algo.cuda_graph"})


def typed_overrides() -> list[str] | None:
    """The overrides typed on the command line of this Hydra run, or None outside one."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return [str(o) for o in HydraConfig.get().overrides.task]
    except Exception:  # no Hydra run (compose API, notebooks): treat every setting as typed
        return None


def _get(tree: Mapping[str, Any], path: Sequence[str]) -> Any:
    for part in path:
        if not isinstance(tree, Mapping) or part not in tree:
            return None
        tree = tree[part]
    return tree


def _set(tree: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for part in path[:-1]:
        tree = tree.setdefault(part, {})
    tree[path[-1]] = value


def _leaves(tree: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}.{k}"
        out.update(_leaves(v, key) if isinstance(v, Mapping) else {key: v})
    return out


def resume_config(
    plain: dict[str, Any], saved: Mapping[str, Any], typed: Sequence[str] | None
) -> dict[str, Any]:
    """``plain`` (the composed, resolved run config) with ``algo``, ``net``, ``data`` and ``seed`` taken from
    ``saved`` (the checkpoint's module config), except the keys in ``typed`` (Hydra override strings such as
    ``algo.backend=batched``; ``None``: all keys count as typed). Raises ConfigError naming every typed
    setting that would change the experiment."""
    out = copy.deepcopy(plain)
    groups: set[str] = set(SECTIONS) if typed is None else set()
    leaves: set[str] = set()
    for item in typed or ():
        key = item.split("=", 1)[0].lstrip("+~")
        if key == "experiment":
            groups.update(SECTIONS)
        elif key in SECTIONS:
            groups.add(key)
        elif key.split(".")[0] in SECTIONS or key == "seed":
            leaves.add(key)
    if typed is None:  # compare every leaf
        for section in SECTIONS:
            leaves.update(_leaves(plain.get(section) or {}, section))
        leaves.add("seed")

    changes = []
    for section in SECTIONS:
        mine, theirs = plain.get(section) or {}, copy.deepcopy(dict(saved.get(section) or {}))
        if section in groups and mine.get("name") != theirs.get("name"):
            if (
                section == "net"
            ):  # net=mlp on a net=auto run may be the same family: the architecture check decides
                theirs = copy.deepcopy(mine)
            else:
                changes.append(f"{section}={mine.get('name')} (checkpoint: {section}={theirs.get('name')})")
        for key in sorted(k for k in leaves if k.startswith(section + ".")):
            path = key.split(".")[1:]
            new, old = _get(mine, path), _get(theirs, path)
            if new != old and key not in CHANGEABLE:
                changes.append(f"{key}={new!r} (checkpoint: {old!r})")
            _set(theirs, path, new)
        out[section] = theirs
    if "seed" in leaves and plain.get("seed") != saved.get("seed"):
        changes.append(f"seed={plain.get('seed')!r} (checkpoint: {saved.get('seed')!r})")
    out["seed"] = saved.get("seed", plain.get("seed"))
    if changes:
        raise ConfigError(
            "resuming continues the run with the checkpoint's own settings, and these would change it: "
            + "; ".join(changes)
            + ". Drop them (the checkpoint's settings apply without repeating the original overrides) or "
            "start a new run without ckpt_path."
        )
    return out
