"""metrics.csv continues across a resume into the same directory (evogan_lightning/run/csv_log.py)."""

import csv

from evogan_lightning.run.csv_log import CSVLogger


def session(root, steps, extra_key=None):
    logger = CSVLogger(save_dir=str(root), name="logs", version="")
    for g in steps:
        row = {"loss/g": float(g), "generation": float(g)}
        if extra_key:
            row[extra_key] = 1.0
        logger.log_metrics(row, step=g)
    logger.finalize("success")
    with open(root / "logs" / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_resume_into_the_same_directory_keeps_the_earlier_rows(tmp_path):
    first = session(tmp_path, [10, 20, 30, 40])
    assert [r["step"] for r in first] == ["10", "20", "30", "40"]
    # resumed from the checkpoint at generation 20: 30 and 40 are logged again (same values, same seed)
    rows = session(tmp_path, [30, 40, 50], extra_key="toy/modes_covered")
    assert [r["step"] for r in rows] == ["10", "20", "30", "40", "50"]  # no loss, no duplicates
    assert rows[0]["loss/g"] == "10.0" and rows[0]["toy/modes_covered"] == ""  # new column: earlier blank
    assert rows[-1]["toy/modes_covered"] == "1.0"


def test_a_fresh_directory_is_a_plain_csv_logger(tmp_path):
    assert [r["step"] for r in session(tmp_path, [1, 2])] == ["1", "2"]


def read_rows(root):
    with open(root / "logs" / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_logged_row_is_on_disk_before_the_run_ends(tmp_path):
    """A killed run (no finalize) keeps every row up to its last log: steps that are multiples of the
    logging interval never triggered Lightning's every-100-steps flush."""
    logger = CSVLogger(save_dir=str(tmp_path), name="logs", version="")
    for g in (10, 20, 30):
        logger.log_metrics({"loss/g": float(g)}, step=g)
        assert [r["step"] for r in read_rows(tmp_path)][-1] == str(g)  # no finalize yet
    logger.log_metrics({"loss/g": 40.0, "toy/modes_covered": 8.0}, step=40)  # a new column mid-run
    rows = read_rows(tmp_path)
    assert [r["step"] for r in rows] == ["10", "20", "30", "40"] and rows[-1]["toy/modes_covered"] == "8.0"
    assert not (tmp_path / "logs" / "metrics.csv.tmp").exists()


def test_a_resumed_session_keeps_the_old_file_until_it_logs(tmp_path):
    """The earlier rows stay on disk while a resumed run starts up (a crash before its first log loses none)."""
    session(tmp_path, [10, 20, 30])
    writer = CSVLogger(save_dir=str(tmp_path), name="logs", version="").experiment  # a new session starts
    assert writer.metrics_keys  # it knows the old columns
    assert [r["step"] for r in read_rows(tmp_path)] == ["10", "20", "30"]


def test_a_full_disk_is_a_one_line_error_naming_the_file(tmp_path, monkeypatch):
    import errno
    import os

    import pytest

    from evogan_lightning.core.errors import ConfigError

    logger = CSVLogger(save_dir=str(tmp_path), name="logs", version="")
    logger.log_metrics({"loss/g": 1.0}, step=10)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(type(logger.experiment), "save", full)
    with pytest.raises(ConfigError, match="metrics.csv .No space left on device.; free disk space"):
        logger.log_metrics({"loss/g": 2.0}, step=20)
    assert [r["step"] for r in read_rows(tmp_path)] == ["10"]  # the rows written before are kept
