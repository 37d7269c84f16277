"""The training console: each Lightning line once, known noise dropped, other warnings kept."""

import logging
import warnings

from evogan_lightning.run.console import quiet_warnings, tidy_lightning_logging


class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_lightning_lines_reach_one_handler_once_without_the_noise():
    import lightning  # noqa: F401  (installs Lightning's own handlers)

    top, pl = logging.getLogger("lightning"), logging.getLogger("lightning.pytorch")
    assert top.handlers, "Lightning no longer installs its own handler; revisit run/console.py"
    saved = (top.propagate, pl.propagate, pl.handlers[:])
    # The state under `python -m evogan_lightning`: Hydra set up the root logger before lightning.pytorch was
    # imported, so lightning.pytorch has no handler and every line went through "lightning" AND the root.
    top.propagate, pl.propagate, pl.handlers = True, True, []
    root, hydra_like, lightning_like = logging.getLogger(), Collect(), Collect()
    root.addHandler(hydra_like)
    top.addHandler(lightning_like)
    try:
        log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
        log.info("before")
        tidy_lightning_logging()
        tidy_lightning_logging()  # idempotent
        log.info("GPU available: False, used: False")
    finally:
        root.removeHandler(hydra_like)
        top.removeHandler(lightning_like)
        top.propagate, pl.propagate, pl.handlers = saved
    assert hydra_like.messages == ["before"]  # after: not printed a second time through the root handler
    assert lightning_like.messages == ["before", "GPU available: False, used: False"]

    def passes(handler, msg):
        return bool(handler.filter(logging.makeLogRecord({"msg": msg})))

    for h in top.handlers:
        assert sum(type(f).__name__ == "_DropNoise" for f in h.filters) == 1
        assert passes(h, "GPU available: False, used: False")
        assert not passes(h, "💡 Tip: For seamless cloud logging ... try installing [litlogger]")
        assert not passes(h, "`weights_only` was not set, defaulting to `False`.")


def test_quiet_warnings_drops_only_the_listed_noise():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet_warnings():
            warnings.warn(
                "Your `IterableDataset` has `__len__` defined. In combination with ...", stacklevel=1
            )
            warnings.warn("the FID classifier was trained on mnist, the data are fashion_mnist", stacklevel=1)
    assert [str(w.message) for w in caught] == [
        "the FID classifier was trained on mnist, the data are fashion_mnist"
    ]


def test_progress_bar_counts_generations_and_the_run_ends_in_words(tmp_path, capsys, monkeypatch):
    import sys

    from evogan_lightning.run.config import compose
    from evogan_lightning.run.train import toy_summary, train

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)  # a terminal: the tqdm bar
    cfg = compose(
        ["algo=gan", "net=mlp", "net.hidden=8", "generations=7", "logger=none", "callbacks=none"],
        output_dir=str(tmp_path),
    )
    train(cfg)
    out = capsys.readouterr().out
    assert "generations: 100%" in out and "7/7" in out and "Epoch 0" not in out
    assert "ring8: " in out and "/8 modes covered, " in out and "% of samples within 3 std of a mode" in out
    words = toy_summary(
        {
            "toy/modes_covered": 8.0,
            "toy/num_modes": 8.0,
            "toy/high_quality_share": 0.936,
            "toy/mode_kl": 0.0021,
            "generation": 6000.0,
            "train_seconds": 126.0,
        },
        "ring8",
    )
    assert words == (
        "ring8: 8/8 modes covered, 94% of samples within 3 std of a mode "
        "(mode KL 0.002; 6000 generations in 2.1 min)"
    )
    assert toy_summary({"val/fid": 30.0}, "cifar10") is None


def test_package_log_goes_to_stdout_once_rank_zero_only_and_can_be_silenced(monkeypatch, capsys):
    from evogan_lightning.run.console import PACKAGE_LOGGER, setup_logging

    pkg = logging.getLogger(PACKAGE_LOGGER)
    saved = (pkg.handlers[:], pkg.level, pkg.propagate)
    pkg.handlers, pkg.level = [], logging.NOTSET
    try:
        setup_logging()
        setup_logging()  # idempotent: one handler, each line once
        assert len(pkg.handlers) == 1 and not pkg.propagate
        log = logging.getLogger("evogan_lightning.run.train")
        log.info("8/8 modes covered")
        log.warning("could not log samples to WandbLogger")
        assert capsys.readouterr().out.splitlines() == [
            "8/8 modes covered",
            "[evogan] warning: could not log samples to WandbLogger",
        ]
        monkeypatch.setenv("LOCAL_RANK", "1")  # a DDP rank > 0: its warnings only
        log.info("output directory: x")
        log.warning("rank 1 warns")
        assert capsys.readouterr().out == "[evogan] warning: rank 1 warns\n"
        monkeypatch.delenv("LOCAL_RANK")
        pkg.setLevel(logging.WARNING)  # the documented way to silence the info lines
        setup_logging()  # keeps the caller's level
        log.info("hidden")
        assert capsys.readouterr().out == ""
    finally:
        pkg.handlers, pkg.level, pkg.propagate = saved
