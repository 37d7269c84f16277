"""The checkpoint schema of every algorithm (``EvoGANModule`` inherits the hooks): the ``evogan`` section
(architecture, generation, RNG, operator counts, history), the architecture check and the migration of older
checkpoints. ``run/checkpoint_io.py`` reads checkpoints through this module."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.errors import ConfigError
from ..nets import effective_options

CHECKPOINT_KEY = "evogan"
CHECKPOINT_VERSION = 2  # 2: architecture holds the net options with defaults filled in (2026-12-03)


class CheckpointMixin:
    """``architecture``, ``on_save_checkpoint`` and ``on_load_checkpoint``."""

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
