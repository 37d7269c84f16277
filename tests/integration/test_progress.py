"""Progress when the output is not a terminal (callbacks/progress.PlainProgress): plain lines, no bar."""

from evogan_lightning.run.config import compose
from evogan_lightning.run.train import train


def test_a_run_into_a_file_prints_about_twenty_plain_lines(tmp_path, capfd):
    cfg = compose(
        ["algo=gan", "net=mlp", "net.hidden=8", "logger=none", "generations=40"], output_dir=str(tmp_path)
    )
    train(cfg)  # pytest captures stderr: not a terminal
    err = capfd.readouterr().err
    lines = [x for x in err.splitlines() if x.startswith("generation ")]
    assert lines[0].startswith("generation 2/40 (5%)") and lines[-1].startswith("generation 40/40 (100%)")
    assert len(lines) == 20 and "\r" not in err and "gen/s" in lines[-1]
