"""Evaluation: FID/KID/IS through the callback's evaluator, toy metric curves, the evaluate / summarize /
train_classifier CLIs, the missing-Inception-weights error at start-up, and extractor-free checkpoints."""

from __future__ import annotations

import csv
import json
import math
import statistics
import urllib.error
from pathlib import Path

import pytest
import torch
from conftest import FAST, read_metrics, run_cli

from evogan_lightning.callbacks.evaluation import ImageQuality
from evogan_lightning.callbacks.plots import history_series, plot_history
from evogan_lightning.core.errors import ConfigError, DivergedError
from evogan_lightning.data.fake import FakeImages
from evogan_lightning.metrics.classifier import ClassifierFeatures, SmallCNN
from evogan_lightning.metrics.evaluator import ImageEvaluator
from evogan_lightning.metrics.fid import INCEPTION_WEIGHTS_ENV, inception_score_from_logits
from evogan_lightning.tools.summarize import collect_runs, settings, summarize

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FAKE28 = {"name": "fake", "num_images": 64, "image_size": 28, "channels": 1}
SHAPE28 = (1, 28, 28)


def tiny_features(seed: int = 0) -> ClassifierFeatures:
    torch.manual_seed(seed)
    return ClassifierFeatures(SmallCNN(1, 4, 28, width=8, num_features=16), name="tiny")


class ReplayModule:
    """Stands in for an algorithm module: ``sample`` replays fixed images (+ a shift) chunk by chunk."""

    def __init__(self, images: torch.Tensor, shift: float = 0.0) -> None:
        self.images, self.shift, self.pos = images, shift, 0
        self.device, self.generation = torch.device("cpu"), 7

    def sample(self, n, generator=None, batch_size=1024):
        out = self.images[self.pos : self.pos + n] + self.shift
        self.pos += n
        return out


def real_rows(n: int) -> torch.Tensor:
    """The real images the evaluator selects for its statistics (fixed permutation of the fake data)."""
    images = FakeImages(64, SHAPE28, seed=0).images
    return images[torch.randperm(64, generator=torch.Generator().manual_seed(0))[:n]]


# ----------------------------------------------------------------------------------- FID through the evaluator


def test_fid_of_a_set_against_itself_is_zero_and_grows_with_a_shift(tmp_path):
    evaluator = ImageEvaluator(
        tiny_features(), num_samples=48, batch_size=20, kid_subset_size=24, cache_dir=tmp_path
    )
    evaluator.prepare(FAKE28, SHAPE28, seed=0)
    assert evaluator.label == "tiny_fid" and evaluator.info["n_real"] == 48
    real = real_rows(48)
    fids, kids = [], []
    for shift in (0.0, 0.1, 0.3, 0.6):
        result = evaluator.evaluate(ReplayModule(real.clamp(-1, 1 - shift) if shift else real, shift))
        fids.append(result["val/tiny_fid"])
        kids.append(result["val/tiny_kid"])
    assert fids[0] == pytest.approx(0.0, abs=1e-6)  # the same 48 quantised images on both sides
    assert abs(kids[0]) < 0.01 * kids[-1]  # subsets are drawn independently per side: ~0, not 0
    assert fids[1] > 1e-4 and all(a < b for a, b in zip(fids, fids[1:])), fids
    assert kids[-1] > kids[1]
    protocol = evaluator.protocol()
    for part in (
        "extractor=module:ClassifierFeatures",
        "n_fake=48",
        "n_real=48",
        "split=train",
        "dataset=fake",
    ):
        assert part in protocol
    assert f"weights_sha256={tiny_features().weights_sha256}"[:30] in protocol


def test_real_statistics_are_cached_and_never_mixed(tmp_path):
    first = ImageEvaluator(tiny_features(0), num_samples=32, kid=False, cache_dir=tmp_path)
    first.prepare(FAKE28, SHAPE28, seed=0)
    assert len(list(tmp_path.glob("stats-*.pt"))) == 1
    # cached: a second evaluator with the same extractor loads the file (same statistics, no recompute)
    again = ImageEvaluator(tiny_features(0), num_samples=32, kid=False, cache_dir=tmp_path)
    again._real_statistics = lambda *a: pytest.fail("recomputed despite a cache hit")  # type: ignore[method-assign]
    again.prepare(FAKE28, SHAPE28, seed=0)
    assert torch.equal(again.real_stats.cov(), first.real_stats.cov())
    # another extractor, resolution or data seed: new statistics in a new file
    ImageEvaluator(tiny_features(1), num_samples=32, kid=False, cache_dir=tmp_path).prepare(
        FAKE28, SHAPE28, seed=0
    )
    ImageEvaluator(tiny_features(0), num_samples=32, kid=False, cache_dir=tmp_path).prepare(
        FAKE28, SHAPE28, seed=5
    )
    assert len(list(tmp_path.glob("stats-*.pt"))) == 3


def test_inception_score_from_logits_hand_values():
    assert inception_score_from_logits(torch.zeros(10, 5), splits=2) == pytest.approx((1.0, 0.0))
    confident = 100.0 * torch.eye(4).repeat(2, 1)  # each split: 4 images, 4 different sure classes
    mean, std = inception_score_from_logits(confident, splits=2)
    assert mean == pytest.approx(4.0, rel=1e-6) and std == pytest.approx(0.0, abs=1e-6)
    one_class = 100.0 * torch.eye(4)[[0, 0, 0, 0]]
    assert inception_score_from_logits(one_class, splits=1)[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="splits"):
        inception_score_from_logits(torch.zeros(3, 5), splits=4)


def test_bad_input(tmp_path):
    with pytest.raises(ConfigError, match="at least 2 samples"):
        ImageEvaluator(tiny_features(), num_samples=1)
    with pytest.raises(ConfigError, match="is_splits"):
        ImageEvaluator("inception", num_samples=10, is_splits=20)
    with pytest.warns(UserWarning, match="2048"):
        ImageEvaluator("inception", num_samples=100, is_splits=10)
    with pytest.raises(ConfigError, match="classifier file"):
        ImageEvaluator("classifier")
    with pytest.raises(ConfigError, match="kid_subset_size >= 2"):
        ImageEvaluator(tiny_features(), num_samples=8, kid_subset_size=1)
    with pytest.raises(ConfigError, match="every_n_generations"):
        ImageQuality(every_n_generations=0, feature=tiny_features())
    evaluator = ImageEvaluator(tiny_features(), num_samples=8, kid=False, cache_dir=tmp_path)
    evaluator.prepare(FAKE28, SHAPE28, seed=0)
    nan = real_rows(8).clone()
    nan[3, 0, 5, 5] = float("nan")
    with pytest.raises(DivergedError, match="generation 7"):
        evaluator.evaluate(ReplayModule(nan))
    with pytest.raises(ConfigError, match="generation 7.*\\[-1, 1\\]"):
        evaluator.evaluate(ReplayModule(real_rows(8) * 127.5 + 127.5))


def test_classifier_of_another_resolution_is_rejected(tmp_path):
    from evogan_lightning.metrics.classifier import save_classifier

    path = tmp_path / "c32.pt"
    save_classifier(path, SmallCNN(1, 4, 32, width=8, num_features=16), {"dataset": "fake"})
    evaluator = ImageEvaluator("classifier", classifier=str(path), num_samples=8, cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="32x32 images but the data are 28x28"):
        evaluator.prepare(FAKE28, SHAPE28)


def test_classifier_fid_without_its_classifier_file_names_the_option_and_how_to_make_one(tmp_path):
    from evogan_lightning.run.config import compose
    from evogan_lightning.run.train import train

    cfg = compose(["data=fake", "callbacks=[default,classifier_fid]"], output_dir=str(tmp_path / "r"))
    with pytest.raises(
        ConfigError, match=r"callbacks\.classifier_fid\.classifier=\.\.\. \(.*train-classifier"
    ):
        train(cfg)
    assert not (tmp_path / "r").exists()  # rejected before anything was written


def test_plot_history_sparse_rows(tmp_path):
    history = [
        {"loss/g": 1.0, "loss/d": 2.0, "generation": 10.0},
        {"val/fid": 50.0, "generation": 10.0},
        {"loss/g": 0.5, "loss/d": float("nan"), "generation": 20.0},
        {"val/fid": 40.0, "val/kid_std": 0.1, "generation": 20.0},
    ]
    assert history_series(history, "val/") == {
        "val/fid": ([10.0, 20.0], [50.0, 40.0]),
        "val/kid_std": ([20.0], [0.1]),
    }
    assert history_series(history, "loss/")["loss/d"] == ([10.0], [2.0])  # NaN skipped
    assert plot_history(history, "val/", tmp_path / "q.png").stat().st_size > 1000
    assert plot_history(history, "fitness/", tmp_path / "f.png") is None


# ------------------------------------------------------------------------------------------------- CLIs


@pytest.fixture(scope="module")
def fake_classifier(tmp_path_factory):
    """train_classifier CLI on fake 28x28 images (label = brightest quadrant)."""
    out = tmp_path_factory.mktemp("classifier") / "fake28.pt"
    proc = run_cli(
        [
            "data=fake",
            "data.image_size=28",
            "data.channels=1",
            "data.num_images=512",
            f"out={out}",
            "epochs=4",
            "lr=0.005",
            "width=8",
            "num_features=16",
            "progress=false",
        ],
        module="evogan_lightning.tools.train_classifier",
    )
    assert "test accuracy" in proc.stdout
    return out


def test_train_classifier_cli_on_fake_data(fake_classifier):
    from evogan_lightning.metrics.classifier import load_classifier

    model, metadata = load_classifier(fake_classifier)
    assert metadata["dataset"] == "fake" and metadata["num_classes"] == 4
    assert metadata["image_shape"] == [1, 28, 28] and model.num_features == 16
    assert metadata["test_accuracy"] > 0.5, metadata  # chance is 0.25


def test_train_classifier_says_when_it_replaces_a_file(tmp_path, capsys):
    from evogan_lightning.tools.train_classifier import main

    out = tmp_path / "c.pt"
    args = ["data=fake", "data.image_size=28", "data.channels=1", "data.num_images=64", f"out={out}"]
    args += ["epochs=1", "width=4", "num_features=8", "progress=false", "max_test=16"]
    assert main(args) == 0
    assert "replaced the previous file" not in capsys.readouterr().out
    assert main(args) == 0
    assert "replaced the previous file" in capsys.readouterr().out


def test_train_classifier_cli_bad_input(tmp_path, capsys):
    from evogan_lightning.tools.train_classifier import main

    assert main(["data=celeba", "data.root=/nowhere", f"out={tmp_path}/c.pt"]) == 2
    assert "no class labels" in capsys.readouterr().err
    assert main([f"out={tmp_path}/c.pt"]) == 2
    assert "data=NAME is required" in capsys.readouterr().err
    assert main(["data=nope"]) == 2
    assert "nope" in capsys.readouterr().err


@pytest.mark.slow  # ~20 s on two busy cores: 6000 real Fashion-MNIST images, 2 epochs
@pytest.mark.skipif(not (FASHION_MNIST / "train-labels-idx1-ubyte.gz").exists(), reason="no Fashion-MNIST")
def test_train_classifier_cli_on_fashion_mnist_subset(tmp_path):
    out = tmp_path / "fmnist.pt"
    run_cli(
        [
            "data=fashion_mnist",
            f"data.root={FASHION_MNIST}",
            f"out={out}",
            "epochs=2",
            "max_train=6000",
            "max_test=2000",
            "progress=false",
        ],
        module="evogan_lightning.tools.train_classifier",
    )
    metadata = torch.load(out, weights_only=True)["metadata"]
    assert metadata["num_train"] == 6000 and metadata["num_test"] == 2000 and metadata["num_classes"] == 10
    assert metadata["test_accuracy"] > 0.75, metadata


def test_fashion_mnist_labels_match_images():
    if not (FASHION_MNIST / "t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip("no Fashion-MNIST")
    from evogan_lightning.tools.train_classifier import load_labelled

    x, y = load_labelled({"name": "fashion_mnist", "root": str(FASHION_MNIST), "download": False}, "test")
    assert x.shape == (10000, 1, 28, 28) and y.shape == (10000,)
    assert torch.bincount(y).tolist() == [1000] * 10  # the test split is balanced
    assert -1.0 <= float(x.min()) and float(x.max()) <= 1.0


IMAGE_RUN = [
    "algo=gan",
    "data=fake",
    "data.image_size=28",
    "data.channels=1",
    "data.num_images=64",
    "net=mnist28",
    "net.g_width=8",
    "net.d_width=8",
    "algo.batch_size=4",
    "generations=6",
    "callbacks.interpolation=null",
    "callbacks.samples.num_samples=4",
    "callbacks.plots.histogram_samples=64",
]


def test_classifier_fid_during_training_and_evaluate_cli(tmp_path, fake_classifier, capsys):
    run, cache = tmp_path / "run", tmp_path / "cache"
    options = "callbacks.classifier_fid"
    run_cli(
        [
            *IMAGE_RUN,
            "callbacks=[default,classifier_fid]",
            f"{options}.classifier={fake_classifier}",
            f"{options}.every_n_generations=3",
            f"{options}.num_samples=64",
            f"{options}.kid_subset_size=32",
            f"{options}.kid_subsets=5",
            f"{options}.cache_dir={cache}",
            f"hydra.run.dir={run}",
            *FAST,
        ]
    )
    metrics = read_metrics(run)
    assert math.isfinite(metrics["val/classifier_fid"]) and metrics["val/classifier_fid"] > 0
    assert metrics["val/classifier_fid_generation"] == 6
    protocol = metrics["val/classifier_fid_protocol"]
    assert "extractor=classifier:fake" in protocol and "n_fake=64" in protocol and "split=train" in protocol
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    # the curve is in the history (saved in the checkpoint), at generations 3 and 6
    fid_rows = [r for r in ckpt["evogan"]["history"] if "val/classifier_fid" in r]
    assert [r["generation"] for r in fid_rows] == [3.0, 6.0]
    # no extractor in the checkpoint
    assert not [k for k in ckpt["state_dict"] if "classifier" in k or "inception" in k or "extractor" in k]
    assert "ImageQuality" not in str(ckpt.get("callbacks", {}))
    for name in ("losses", "quality", "intensity_histogram"):
        assert (run / "plots" / f"{name}.png").stat().st_size > 1000

    from evogan_lightning.tools.evaluate import main as evaluate_main  # in process: the CLI's own main()

    code = evaluate_main(
        [
            f"ckpt_path={run}/checkpoints/last.ckpt",
            "num_samples=64",
            f"classifier={fake_classifier}",
            "fid=false",
            f"cache_dir={cache}",
            "kid=false",
        ]
    )
    stdout = capsys.readouterr().out
    assert code == 0
    result = json.loads((run / "checkpoints" / "eval.json").read_text())
    # the same generator, noise and real statistics: evaluate reproduces the training-time number
    assert result["val/classifier_fid"] == pytest.approx(metrics["val/classifier_fid"], rel=1e-9)
    assert result["generation"] == 6 and "val/classifier_kid" not in result
    assert "val/classifier_fid" in stdout and "eval.json" in stdout


def test_missing_inception_weights_fail_at_start_up(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV, raising=False)
    proc = run_cli(
        [
            *IMAGE_RUN,
            "callbacks=[default,fid]",
            "callbacks.fid.allow_download=false",
            f"hydra.run.dir={tmp_path}/run",
            *FAST,
        ],
        check=False,
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert INCEPTION_WEIGHTS_ENV in proc.stderr and "weights_path" in proc.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()  # no generation ran, nothing was saved
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_missing_inception_weights_in_process_before_any_generation(tmp_path, monkeypatch):
    """The callback's setup raises before the first generation (downloads made to fail)."""
    from evogan_lightning.run.config import compose
    from evogan_lightning.run.train import train

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "_hub_dir", None)

    def no_download(*args, **kwargs):
        raise urllib.error.URLError("network unreachable (test)")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    cfg = compose([*IMAGE_RUN, "callbacks=[default,fid]", *FAST], output_dir=str(tmp_path / "run"))
    with pytest.raises(ConfigError, match="URLError"):
        train(cfg)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_toy_metrics_logged_during_run_and_evaluate_cli(tmp_path, capsys):
    run = tmp_path / "run"
    run_cli(
        [
            "algo=gan",
            "generations=7",
            "log_every_n_generations=2",
            "callbacks.toy_metrics.every_n_generations=3",
            "logger=csv",
            "trainer.enable_progress_bar=false",
            f"hydra.run.dir={run}",
        ]
    )
    history = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["evogan"][
        "history"
    ]
    toy_rows = [r for r in history if "toy/modes_covered" in r]
    assert [r["generation"] for r in toy_rows] == [3.0, 6.0]  # every 3 (the final value goes to the loggers)
    for row in toy_rows:
        assert 0 <= row["toy/modes_covered"] <= 8 and 0 <= row["toy/high_quality_share"] <= 1
        assert 0 <= row["toy/mode_kl"] <= math.log(8) + 1e-9
    with open(run / "logs" / "metrics.csv") as handle:
        logged = [r for r in csv.DictReader(handle) if r.get("toy/modes_covered")]
    assert len(logged) == 3
    metrics = read_metrics(run)
    for key in ("toy/modes_covered", "toy/high_quality_share", "toy/mode_kl"):
        assert float(logged[-1][key]) == pytest.approx(metrics[key], rel=1e-6), (
            key
        )  # curve ends at the result
    assert (run / "plots" / "toy_metrics.png").is_file() and (run / "plots" / "losses.png").is_file()

    from evogan_lightning.tools.evaluate import main as evaluate_main

    assert evaluate_main([f"ckpt_path={run}/checkpoints/last.ckpt", "num_samples=10000"]) == 0
    result = json.loads((run / "checkpoints" / "eval.json").read_text())
    for key in ("toy/modes_covered", "toy/high_quality_share", "toy/mode_kl", "toy/protocol"):
        assert result[key] == metrics[key], key  # same samples as train.py's end-of-run evaluation
    notes = tmp_path / "notes.txt"
    notes.write_text("not a classifier")
    assert evaluate_main([f"ckpt_path={run}/checkpoints/last.ckpt", f"classifier={notes}"]) == 2
    assert "applies to image checkpoints; this one is on toy data (ring8)" in capsys.readouterr().err


def test_evaluate_cli_bad_input(tmp_path, capsys):
    from evogan_lightning.tools.evaluate import main

    assert main([f"ckpt_path={tmp_path}/none.ckpt"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["ckpt_path=x", "bogus=1"]) == 2
    assert "unknown argument" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ summarize


def fake_job(root: Path, name: str, overrides: list[str], metrics: dict) -> None:
    job = root / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (job / "metrics.json").write_text(json.dumps(metrics))


def test_summarize_groups_seeds_and_picks_the_main_metric(tmp_path):
    values = {("1", "1"): 30.0, ("1", "2"): 34.0, ("2", "1"): 20.0, ("2", "2"): 22.0}
    for i, ((n_c, seed), fid) in enumerate(values.items()):
        fake_job(
            tmp_path,
            f"{i}_n_c={n_c},seed={seed}",
            ["algo=cegan", f"algo.n_c={n_c}", f"seed={seed}", "generations=9"],
            {"val/fid": fid, "val/fid_protocol": "extractor=x", "loss/g": 1.0 + i, "generation": 9.0},
        )
    runs = collect_runs(tmp_path)
    assert [r["overrides"]["seed"] for r in runs] == ["1", "2", "1", "2"]
    assert settings(runs, "val/fid") == [("algo.n_c=1", [30.0, 34.0]), ("algo.n_c=2", [20.0, 22.0])]
    result = summarize(tmp_path)
    assert result["metric"] == "val/fid" and result["columns"][:4] == ["job", "algo.n_c", "seed", "val/fid"]
    md = (tmp_path / "summary.md").read_text()
    assert (
        "Best setting by val/fid: algo.n_c=2 (21" in md
        and "common overrides: algo=cegan, generations=9" in md
    )
    with open(tmp_path / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["val/fid"]) for r in rows] == list(values.values())
    assert (tmp_path / "summary.png").stat().st_size > 1000
    assert summarize(tmp_path, metric="loss/g")["metric"] == "loss/g"
    with pytest.raises(ConfigError, match="available"):
        summarize(tmp_path, metric="val/nope")
    assert statistics.fmean(values.values()) == 26.5  # sanity of the hand values


def test_summarize_cli_on_a_real_multirun(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    run_cli(
        [
            "-m",
            "algo=gan",
            "algo.loss=heuristic,minimax",
            "generations=4",
            "callbacks=none",
            f"hydra.sweep.dir={sweep}",
            *FAST,
        ]
    )
    from evogan_lightning.tools.summarize import main as summarize_main

    assert summarize_main([str(sweep)]) == 0
    stdout = capsys.readouterr().out
    assert "toy/modes_covered" in stdout and "summary.png" in stdout
    with open(sweep / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["algo.loss"] for r in rows] == ["heuristic", "minimax"]
    jobs = sorted(p.parent for p in sweep.glob("*/metrics.json"))
    for row, job in zip(rows, jobs):
        assert float(row["loss/g"]) == pytest.approx(read_metrics(job)["loss/g"], rel=1e-3)
    assert summarize_main([str(tmp_path / "empty")]) == 2
    assert "not a directory" in capsys.readouterr().err


@pytest.mark.slow  # builds torch-fidelity's Inception twice on CPU (~30 s)
def test_inception_fid_and_is_during_training_from_a_local_weights_file(tmp_path, monkeypatch):
    pytest.importorskip("torch_fidelity")
    from helpers import random_inception_weights

    weights = tmp_path / "inception.pth"
    torch.save({}, weights)
    random_inception_weights(weights)  # the real architecture with random values: no download
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, str(weights))
    run = tmp_path / "run"
    run_cli(
        [
            *IMAGE_RUN,
            "generations=3",
            "callbacks=[default,fid]",
            "callbacks.fid.every_n_generations=3",
            "callbacks.fid.num_samples=20",
            "callbacks.fid.batch_size=10",
            "callbacks.fid.is_splits=2",
            "callbacks.fid.kid_subset_size=10",
            f"callbacks.fid.cache_dir={tmp_path / 'cache'}",
            f"hydra.run.dir={run}",
            *FAST,
        ]
    )
    metrics = read_metrics(run)
    assert math.isfinite(metrics["val/fid"]) and metrics["val/fid"] >= 0
    assert metrics["val/is_mean"] >= 1.0 and math.isfinite(metrics["val/is_std"])
    protocol = metrics["val/fid_protocol"]
    assert "extractor=inception-v3-compat-2048" in protocol and "antialias=False" in protocol
    assert "n_fake=20" in protocol and "split=train" in protocol
    from evogan_lightning.metrics.fid import sha256_file

    assert f"weights_sha256={sha256_file(weights)}" in protocol
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    keys = " ".join(ckpt["state_dict"]) + " " + str(ckpt.get("callbacks", {}))
    assert "inception" not in keys.lower() and "Mixed_" not in keys
