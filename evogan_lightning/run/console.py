"""The terminal side of a training run: each Lightning message once, no notices that do not apply, and a
Ctrl-C or a scheduler's SIGTERM/SIGUSR1 that finishes the current generation and saves a checkpoint instead
of losing the work.

Under Hydra, Lightning's info lines went out twice (its own handler, then Hydra's root handler) and every
run printed advice that does not apply here: a cloud-logging tip, a ``weights_only`` notice about our own
checkpoints, and warnings about Lightning features this project does not use (epochs, per-step logging,
``IterableDataset`` length: the stream is one batch per generation by construction).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# Lightning log lines that say nothing about this run.
NOISE_LOG_LINES = ("litlogger", "`weights_only` was not set")

# Lightning warnings about features this project does not use (regular expressions, as warnings filters).
NOISE_WARNINGS = (
    ".*does not have many workers.*",  # one generated batch per step: workers do not help
    ".*`max_epochs` was not set.*",  # runs are measured in generations
    ".*resuming from a checkpoint that ended before the epoch.*",  # the stream has no epochs
    ".*is an invalid `training_step` return.*",  # manual optimisation returns nothing
    ".*`IterableDataset` has `__len__` defined.*",  # the stream's length is exact for any worker count
    ".*smaller than the logging interval.*",  # we log every log_every_n_generations ourselves
    ".*isinstance\\(treespec, LeafSpec\\)` is deprecated.*",  # inside Lightning, with a newer torch
)

_LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric")

# The package's own log: library modules use ``logging.getLogger(__name__)``, all children of this one.
# Silence it with ``logging.getLogger("evogan_lightning").setLevel(logging.WARNING)``.
PACKAGE_LOGGER = "evogan_lightning"


def is_rank_zero() -> bool:
    """Lightning's DDP launcher starts ranks > 0 with LOCAL_RANK/NODE_RANK set (RANK under torchrun)."""
    return all(os.environ.get(k, "0") == "0" for k in ("LOCAL_RANK", "NODE_RANK", "RANK"))


class _RankZeroOnly(logging.Filter):
    """Info lines from rank 0 only (every DDP rank runs the same code); warnings and errors from any rank."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or is_rank_zero()


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at the time (a notebook's, pytest's capture), message only;
    warnings carry a ``[evogan] warning:`` prefix."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)
        self.addFilter(_RankZeroOnly())

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            return f"[evogan] {record.levelname.lower()}: {message}"
        return message


def setup_logging(level: int = logging.INFO) -> logging.Logger:
    """Show the package's log lines on stdout (rank 0 only for info), unless the caller has already
    configured the ``evogan_lightning`` logger (a handler of its own, or a level set). Idempotent."""
    logger = logging.getLogger(PACKAGE_LOGGER)
    if not logger.handlers:
        logger.addHandler(_StdoutHandler())
        logger.propagate = False  # Hydra's root handler would print every line a second time
        if logger.level == logging.NOTSET:
            logger.setLevel(level)
    return logger


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(noise in message for noise in NOISE_LOG_LINES)


def tidy_lightning_logging() -> None:
    """Each Lightning log line once (its own handlers, not also the root's), without ``NOISE_LOG_LINES``.
    Idempotent."""
    for name in _LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        if logger.handlers:
            logger.propagate = False
        for handler in logger.handlers:
            if not any(isinstance(f, _DropNoise) for f in handler.filters):
                handler.addFilter(_DropNoise())


@contextlib.contextmanager
def quiet_warnings() -> Iterator[None]:
    """Ignore ``NOISE_WARNINGS`` inside the block; every other warning still shows."""
    with warnings.catch_warnings():
        for pattern in NOISE_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        yield


# Signals that stop a run gracefully: Ctrl-C, a scheduler's SIGTERM (SLURM preemption, ``docker stop``) and
# SLURM's pre-timeout warning (``sbatch --signal=USR1@90``). The exit status is 128 + the signal number.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)


@dataclass
class StopState:
    """The stop signal a run received (``None``: none); ``exit_code`` is the shell's 128 + signal number."""

    signum: int | None = None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum or signal.SIGINT)


@contextlib.contextmanager
def stop_on_signals(request_stop: Callable[[], None]) -> Iterator[StopState]:
    """Inside the block SIGINT (Ctrl-C), SIGTERM and SIGUSR1 call ``request_stop()``: the run stops at the end
    of the current generation and saves its checkpoint; the state yielded says which signal came. A second
    Ctrl-C aborts at once (KeyboardInterrupt). Only in the main thread of a single process (several ranks
    must stop at the same generation; Lightning's own SIGTERM handling serves DDP)."""
    state = StopState()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}

    def handler(signum, frame):
        if signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)  # the next Ctrl-C aborts
            what = "Ctrl-C: stopping after this generation and saving a checkpoint (press Ctrl-C again to abort now)"
        else:
            what = f"{signal.Signals(signum).name}: stopping after this generation and saving a checkpoint"
        if state.signum is None:
            state.signum = signum
            print(f"\n{what}", file=sys.stderr, flush=True)
        request_stop()

    for s in STOP_SIGNALS:
        signal.signal(s, handler)
    try:
        yield state
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
