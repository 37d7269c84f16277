"""User-facing errors: the CLI prints their message (no traceback) and exits with status 2."""

# What to do after a divergence (every divergence message ends with it; resume cannot change learning rates).
DIVERGENCE_ADVICE = (
    "Resuming continues the same learning rates, so start a new run with a lower algo.lr_g / algo.lr_d, an "
    "r1_penalty or gradient_penalty, or another seed."
)


class ConfigError(ValueError):
    """Bad input (config, data, checkpoint): the message names the problem and the fix."""


class DivergedError(RuntimeError):
    """Training produced NaN/Inf losses or every individual diverged; the last good checkpoint is kept."""


class StoppedByUser(KeyboardInterrupt):
    """Ctrl-C, SIGTERM or SIGUSR1 stopped the run at a generation boundary; its checkpoint was saved (the
    message says where). ``exit_code``: 128 + the signal number (130 Ctrl-C, 143 SIGTERM)."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code
