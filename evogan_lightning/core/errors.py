"""User-facing errors: the CLI prints their message (no traceback) and exits with status 2."""

# What to do after a divergence (every divergence message ends with it; resume cannot change learning rates).
DIVERGENCE_ADVICE = (
    "Resuming continues the same learning rates, so start a new run with a lower algo.lr_g / algo.lr_d, an "
    "r1_penalty or gradient_penalty, or another seed."
)

# An exploded state is a diverged state: a loss, a weight or an Adam first moment beyond EXPLODED in absolute
# value (or a second moment beyond EXPLODED ** 2) is treated like NaN/Inf. No healthy GAN comes near it: the
# losses of a trained GAN are O(1)-O(10), its weights O(1).
EXPLODED = 1e8


def within_bound(x, square: bool = False):
    """A 0-dim bool tensor (no host sync): ``x`` is finite and ``|x| <= EXPLODED`` (``EXPLODED ** 2`` for
    squared quantities such as Adam's second moment)."""
    import torch

    bound = EXPLODED**2 if square else EXPLODED
    return torch.isfinite(x).all() & (x.abs() <= bound).all()


class ConfigError(ValueError):
    """Bad input (config, data, checkpoint): the message names the problem and the fix."""


class DivergedError(RuntimeError):
    """Training produced NaN/Inf (or exploded, beyond ``EXPLODED``) losses or weights, or every individual
    diverged; the last good checkpoint is kept."""


class StoppedByUser(KeyboardInterrupt):
    """Ctrl-C, SIGTERM or SIGUSR1 stopped the run at a generation boundary; its checkpoint was saved (the
    message says where). ``exit_code``: 128 + the signal number (130 Ctrl-C, 143 SIGTERM)."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code
