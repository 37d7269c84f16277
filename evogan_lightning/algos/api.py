"""The public Python API of every algorithm (``EvoGANModule`` inherits it): ``create`` from the command line's
defaults without Hydra, ``datamodule``, ``sample`` and ``best_individual``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from ..core.errors import ConfigError


class ApiMixin:
    """``create``, ``datamodule``, ``sample``, ``best_individual``."""

    @classmethod
    def create(
        cls,
        data: str | Mapping[str, Any] = "ring8",
        net: str | Mapping[str, Any] = "auto",
        generations: int = 7000,
        seed: int = 0,
        log_every_n_generations: int = 10,
        **algo_options: Any,
    ) -> Any:
        """The algorithm from Python, without Hydra: its defaults (``conf/algo/<name>.yaml``, as the command
        line has them) with ``algo_options`` on top, checked by its typed config (``algos/config.py``).

        ``data``/``net``: a config name (``"ring8"``, ``"fashion_mnist"``; ``"auto"``, ``"mnist28"``) or a
        dict (``{"name": "fashion_mnist", "root": DIR}``: the named config's keys with these on top). Train it
        with ``lightning.Trainer(max_epochs=-1).fit(model, model.datamodule())``.
        """
        from ..core.conf_files import config_file

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
