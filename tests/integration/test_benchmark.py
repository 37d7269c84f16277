"""The benchmark command (evogan_lightning/tools/benchmark.py): a real run through the Trainer on a tiny setting,
the table's per-mode GAN ratios, and its bad input."""

import json

import pytest

from evogan_lightning.tools.benchmark import main, to_markdown


@pytest.mark.slow  # a benchmark subprocess; the bad-input test below stays in the default set
def test_benchmark_runs_and_saves_json_and_markdown(tmp_path, capsys):
    out = tmp_path / "bench"
    extra = "extra=net.g_width=8,net.d_width=8,algo.batch_size=8,algo.eval_batch_size=32"
    rc = main(["algos=gan,cegan", "mu=1,2", "device=cpu", "warmup=1", "iters=2", f"out={out}", extra])
    assert rc == 0
    saved = json.loads((out / "benchmark.json").read_text())
    results = saved["results"]
    assert "overrides: net.g_width=8 net.d_width=8" in saved["meta"]["setting"]  # not the plain CIFAR setting
    assert [(r["algo"], r["mu"], r["mode"]) for r in results] == [
        ("gan", 1, "eager"),
        ("cegan", 1, "eager"),
        ("cegan", 2, "eager"),
    ]
    assert all(r["ms_per_generation"] > 0 and r["generations_timed"] == 2 for r in results)
    assert all(r["ms_p10"] <= r["ms_per_generation"] <= r["ms_p90"] for r in results)
    gan, cegan1, cegan2 = (r["ops_per_generation"] for r in results)
    assert 0 < gan < cegan1 < cegan2  # the loop backend launches more ops for every extra parent
    table = (out / "benchmark.md").read_text()
    assert "| gan | 1 | - | eager |" in table and "| 1.00 |" in table and "overrides:" in table
    assert "ms/generation" in capsys.readouterr().out


def test_ratios_divide_by_the_gan_of_the_same_mode():
    row = dict(mu=1, backend="batched", ms_p10=1.0, ms_p90=1.0, peak_memory_mb=1.0, ops_per_generation=None)
    rows = [
        {**row, "algo": "gan", "mode": "eager", "ms_per_generation": 10.0},
        {**row, "algo": "gan", "mode": "graph", "ms_per_generation": 4.0},
        {**row, "algo": "cegan", "mode": "eager", "ms_per_generation": 30.0},
        {**row, "algo": "cegan", "mode": "graph", "ms_per_generation": 6.0},
    ]
    lines = to_markdown(rows).splitlines()
    assert "| 3.00 |" in lines[4] and "| 1.50 |" in lines[5]


def test_bad_input(capsys):
    assert main(["graph=true", "device=cpu"]) == 2
    assert "needs a CUDA device" in capsys.readouterr().err
    assert main(["graph=maybe"]) == 2
    assert "graph takes true, false or both" in capsys.readouterr().err
    assert main(["algos=wgan"]) == 2
    assert "unknown algos ['wgan']" in capsys.readouterr().err
