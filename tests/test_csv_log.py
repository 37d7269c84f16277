"""metrics.csv continues across a resume into the same directory (evogan_lightning/csv_log.py)."""

import csv

from evogan_lightning.csv_log import CSVLogger


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
