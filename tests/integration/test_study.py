"""The toy study (evogan_lightning/tools/study.py): planning and bad input, mean +- std aggregation by hand, and
one tiny end-to-end study (two algorithms, two seeds, run two at a time) that resumes without rerunning."""

import json
import math

import pytest
from conftest import REPO

from evogan_lightning.core.errors import ConfigError
from evogan_lightning.tools import study


def test_plan_names_every_run_and_rejects_bad_input(tmp_path):
    runs = study.plan(["gan_minimax", "cegan"], ["ring8", "grid25"], [0, 1], tmp_path)
    assert len(runs) == 8
    assert runs[0].dir == tmp_path / "gan_minimax" / "ring8" / "seed0"
    cmd = study.command(runs[-1], "toy_fast", 50, ["net.hidden=8"])
    assert cmd[-6:] == [
        "algo=cegan",
        "data=grid25",
        "seed=1",
        f"hydra.run.dir={runs[-1].dir}",
        "generations=50",
        "net.hidden=8",
    ]
    assert "experiment=toy_fast" in cmd
    # an algo option goes only to the algorithms that have it
    baseline = study.command(runs[0], "toy_fast", None, ["algo.eval_batch_size=32", "net.hidden=8"])
    assert baseline[-1] == "net.hidden=8" and "algo.eval_batch_size=32" not in baseline
    (variant,) = study.plan(["cegan_adam_step"], ["ring8"], [0], tmp_path)  # opt-in variants by name
    assert "algo.distill_step=adam" in study.command(variant, "toy_fast", None, [])
    with pytest.raises(ConfigError, match="unknown study algorithm.*'wgan'.*choose from"):
        study.plan(["wgan"], ["ring8"], [0], tmp_path)
    with pytest.raises(ConfigError, match="toy mixtures.*28x28 images.*summarize.*metric=val/fid"):
        study.plan(["cegan"], ["cifar10"], [0], tmp_path)
    with pytest.raises(ConfigError, match="either toy mixtures or images"):
        study.plan(["cegan"], ["ring8", "fashion_mnist"], [0], tmp_path)
    with pytest.raises(ConfigError, match="seeds is empty"):
        study.plan(["cegan"], ["ring8"], [], tmp_path)
    assert study.main(["data=mnist"]) == 2
    assert study.main(["seeds=a,b"]) == 2


def test_image_runs_add_root_curve_and_scoring(tmp_path):
    setup = study.ImageSetup(root="/data/fm", classifier="/c/cls.pt", curve_every=100, curve_samples=500)
    gan, egan, gan_long = (
        study.plan([a], ["stacked_fashion_mnist"], [1], tmp_path)[0]
        for a in ("gan_minimax", "egan", "gan_minimax_long")
    )
    assert gan.image and not gan.done
    cmd = study.command(gan, "fmnist_fast", 40, [], setup)
    assert "data.root=/data/fm" in cmd and "callbacks.classifier_fid.classifier=/c/cls.pt" in cmd
    assert "callbacks.classifier_fid.every_n_generations=100" in cmd and "generations=40" in cmd
    assert "algo.eval_batch_size=128" not in cmd  # the baseline has no fitness batch
    assert "algo.eval_batch_size=128" in study.command(egan, "fmnist_fast", 40, [], setup)
    assert "generations=120" in study.command(
        gan_long, "fmnist_fast", 40, [], setup
    )  # conf/study/gan_minimax_long.yaml: image 3.0
    assert f"generations={round(3000 * 3)}" in study.command(gan_long, "fmnist_fast", None, [], setup)
    score = setup.score_command(gan)
    assert score[2] == "evogan_lightning.tools.evaluate" and "protocol=true" in score
    assert f"out={gan.dir / 'protocol.json'}" in score
    # a trained run is done only once scored
    gan.dir.mkdir(parents=True)
    (gan.dir / "metrics.json").write_text("{}")
    assert gan.trained and not gan.done
    (gan.dir / "protocol.json").write_text('{"test/classifier_fid": 5.0}')
    gan.load()
    assert gan.done and gan.metrics["test/classifier_fid"] == 5.0


def test_image_study_curve_at_a_budget():
    from evogan_lightning.tools.study_images import value_at

    points = [(10.0, 100, 50.0), (20.0, 200, 30.0), (30.0, 300, 20.0)]
    assert value_at(points, 15.0) == (40.0, 150.0, True)
    assert value_at(points, 5.0) == (50.0, 100, True)
    assert value_at(points, 60.0) == (20.0, 300, False)  # ended before the budget: its last value
    assert math.isnan(value_at([], 1.0)[0])


def test_aggregate_is_mean_and_sample_std_over_seeds(tmp_path):
    runs = study.plan(["egan"], ["ring8"], [0, 1, 2], tmp_path)
    for run, (modes, hq, seconds) in zip(runs, [(8, 0.9, 10.0), (6, 0.8, 20.0), (7, 0.7, 30.0)]):
        run.dir.mkdir(parents=True)
        metrics = {
            "toy/modes_covered": modes,
            "toy/num_modes": 8,
            "toy/high_quality_share": hq,
            "toy/mode_kl": 0.1,
            "generation": 600,
            "train_seconds": seconds,
        }
        (run.dir / "metrics.json").write_text(json.dumps(metrics))
        run.load()
    (row,) = study.aggregate(runs)
    assert row["toy/modes_covered"] == pytest.approx(7.0) and row["toy/modes_covered_std"] == pytest.approx(
        1.0
    )
    assert row["toy/high_quality_share"] == pytest.approx(0.8)
    assert row["toy/high_quality_share_std"] == pytest.approx(0.1)
    assert row["generations_per_s"] == pytest.approx((60 + 30 + 20) / 3)
    assert row["train_seconds"] == pytest.approx(20.0) and row["seeds"] == 3 and row["missing"] == 0
    assert (
        "| egan | ring8 | 7.0 +- 1.0 / 8 | 1 of 3 | 80.0 +- 10.0 | 0.10 +- 0.00 | 37 | 20 | 3 |"
        in study.markdown([row])
    )
    (runs[2].dir / "metrics.json").unlink()  # a run that failed or has not run yet
    (row,) = study.aggregate(runs)
    assert row["seeds"] == 2 and row["missing"] == 1 and "| 2 of 3 |" in study.markdown([row])
    for run in runs:
        (run.dir / "metrics.json").unlink(missing_ok=True)
    (row,) = study.aggregate(runs)
    assert study.markdown([row]).endswith("| egan | ring8 | - | - | - | - | - | - | 0 of 3 |\n")  # not "nan"
    assert study.mean_std([5.0]) == (5.0, 0.0)
    assert all(math.isnan(v) for v in study.mean_std([]))


@pytest.mark.slow  # a whole (tiny) study in subprocesses; planning and reporting are tested in process above
def test_tiny_study_end_to_end_and_resume(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    out = tmp_path / "study"
    tiny = "net.hidden=8 algo.batch_size=16 algo.eval_batch_size=32 trainer.enable_progress_bar=false logger=none"
    args = [
        "algos=gan_heuristic,cegan",
        "data=ring8",
        "seeds=0,1",
        "generations=6",
        "jobs=2",
        f"out={out}",
        f"extra={tiny}",
    ]
    stale = out / "cegan" / "ring8" / "seed1"  # left by a study that was stopped mid-run
    stale.mkdir(parents=True)
    (stale / "stale.txt").write_text("half a run")
    assert study.main(args) == 0
    assert not (stale / "stale.txt").exists()  # rerun from scratch, not mixed with the old files
    printed = capsys.readouterr().out
    assert "[4/4]" in printed and "| cegan | ring8 |" in printed
    results = json.loads((out / "results.json").read_text())
    assert [r["algo"] for r in results["rows"]] == ["gan_heuristic", "cegan"]
    assert len(results["runs"]) == 4 and all(r["generation"] == 6 for r in results["runs"])
    assert (out / "samples.png").stat().st_size > 0 and (out / "results.md").read_text().startswith(
        "Toy study"
    )
    # a second call finds every run finished and only rebuilds the report
    assert study.main(args) == 0
    assert "4 of 4 runs already finished" in capsys.readouterr().out


@pytest.mark.slow  # an image study in subprocesses: classifier training, two runs, scoring, the report
def test_tiny_image_study_trains_its_classifier_scores_and_reports(tmp_path, capsys, monkeypatch):
    from helpers import tiny_fashion

    monkeypatch.chdir(REPO)
    monkeypatch.setenv("EVOGAN_CLASSIFIER_CACHE", str(tmp_path / "classifiers"))
    root = tiny_fashion(tmp_path / "fashion", n_train=80, n_test=40)
    out = tmp_path / "study"
    tiny = "net.g_width=4 net.d_width=4 algo.batch_size=8"
    args = [
        "algos=gan_heuristic,cegan",
        "data=fashion_mnist",
        "seeds=0",
        "generations=4",
        "curve_every=2",
        "curve_samples=20",
        "protocol_samples=30",
        f"root={root}",
        f"out={out}",
        f"extra={tiny}",
    ]
    assert study.main(args) == 0
    printed = capsys.readouterr().out
    assert "training the fashion_mnist classifier once" in printed and "[2/2]" in printed
    assert len(list((tmp_path / "classifiers").glob("fashion_mnist-*.pt"))) == 1
    results = (out / "results.md").read_text()
    assert results.startswith("Image study") and "*floor: real train images*" in results
    assert "*ceiling: untrained G*" in results and "| cegan |" in results and "equal wall-clock" in results
    for algo in ("gan_heuristic", "cegan"):
        scored = json.loads((out / algo / "fashion_mnist" / "seed0" / "protocol.json").read_text())
        assert scored["test/classifier_fid"] >= 0 and "n_fake=30" in scored["test/protocol"]
    assert (out / "samples.png").stat().st_size > 0 and (out / "fid_vs_time.png").stat().st_size > 0
    assert study.main(args) == 0  # resumed: nothing reruns, the classifier is not trained again
    again = capsys.readouterr().out
    assert "2 of 2 runs already finished" in again and "training the fashion_mnist classifier" not in again


def test_panel_figure_lays_out_one_panel_per_algorithm_and_data_set(tmp_path):
    """``study.panel_figure`` (both studies' sample figures): rows are data sets (toy) or algorithms
    (images); each panel's ``draw`` gets the first finished run that has a checkpoint, or None."""
    runs = [
        study.Run(a, d, s, tmp_path / a / d / f"seed{s}")
        for a in ("gan", "cegan")
        for d in ("ring8", "grid25")
        for s in (0, 1)
    ]
    for r in runs[1:3]:  # gan ring8 seed 1 and gan grid25 seed 0 finished; every other run did not
        (r.dir / "checkpoints").mkdir(parents=True)
        (r.dir / "metrics.json").write_text("{}")
        (r.dir / "checkpoints" / "last.ckpt").write_bytes(b"x")
    for rows_are_algos in (False, True):
        seen: dict[tuple[int, int], tuple[str, str | None]] = {}

        def draw(ax, data, run, seen=seen):
            spec = ax.get_subplotspec()
            seen[spec.rowspan.start, spec.colspan.start] = (data, run and f"{run.algo}/{run.data}/{run.seed}")

        path = tmp_path / f"fig_{rows_are_algos}.png"
        study.panel_figure(runs, path, draw, rows_are_algos=rows_are_algos, panel=(1.0, 1.0), suptitle="t")
        assert path.stat().st_size > 1000
        gan_ring, gan_grid = (0, 0), ((0, 1) if rows_are_algos else (1, 0))  # (row, column) of gan's panels
        assert seen == {
            gan_ring: ("ring8", "gan/ring8/1"),
            gan_grid: ("grid25", "gan/grid25/0"),
            (gan_grid[1], gan_grid[0]): ("ring8", None),  # cegan: no finished run
            (1, 1): ("grid25", None),
        }


def test_the_fid_curve_figure_keeps_every_line_of_a_big_study_apart(tmp_path, monkeypatch):
    """``study_images.curves_figure``: one line per algorithm; past ten algorithms the colours repeat with
    another line style, so no two lines look alike (the image study with its variants has 11)."""
    import matplotlib.axes

    from evogan_lightning.tools import study_images

    runs = []
    for k in range(12):
        run = study.Run(f"algo{k}", "fashion_mnist", 0, tmp_path / f"algo{k}", image=True)
        (run.dir / "logs").mkdir(parents=True)
        (run.dir / "metrics.json").write_text("{}")
        (run.dir / "protocol.json").write_text("{}")
        rows = [f"{g},{g / 10},{100 - k - g / 100}" for g in (250, 500, 750)]
        (run.dir / "logs" / "metrics.csv").write_text(
            "generation,val/train_seconds,val/classifier_fid\n" + "\n".join(rows) + "\n"
        )
        runs.append(run)
    drawn = []
    plot = matplotlib.axes.Axes.plot

    def record(ax, *args, **kwargs):
        drawn.append((kwargs.get("label"), kwargs.get("color"), kwargs.get("linestyle")))
        return plot(ax, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", record)
    study_images.curves_figure(runs, tmp_path / "fid.png", budgets={"fashion_mnist": 50.0})
    assert (tmp_path / "fid.png").stat().st_size > 1000
    assert [label for label, _, _ in drawn] == [f"algo{k} (1)" for k in range(12)]
    assert len({(color, style) for _, color, style in drawn}) == 12
    assert drawn[0][1:] == ("C0", "-") and drawn[10][1:] == ("C0", "--")
