"""``evogan-evaluate ckpt_path=RUN/checkpoints/last.ckpt [num_samples=N] [fid=auto]
[classifier=FILE.pt] [protocol=false]``

The evaluation protocol of a checkpoint without training: the module is rebuilt with
``sample.load_module``; real statistics come from the checkpoint's stored ``data`` config through
``GANDataModule`` (cached like during training). Toy data: modes covered, high-quality share, mode KL.
Images: Inception FID/KID/IS (``fid=true`` requires the weights, ``fid=auto`` computes them when weights
are local or cached, ``fid=false`` skips them) and, with ``classifier=FILE``, classifier-FID/KID against
the train split; with ``protocol=true`` instead the 28x28 image protocol of ``metrics.image_protocol``
(10,000 samples against the 10,000 test images: ``test/classifier_fid``, KID, class TVD, precision/recall,
density/coverage, and on stacked Fashion-MNIST modes covered and mode KL).
Writes ``eval.json`` next to the checkpoint (or ``out=FILE``) and prints a table.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import torch

from ..core.errors import ConfigError, DivergedError

USAGE = (
    "usage: evogan-evaluate ckpt_path=PATH [num_samples=10000] [fid=auto|true|false] "
    "[classifier=FILE.pt] [weights_path=INCEPTION.pth] [batch_size=250] [cache_dir=DIR] [out=eval.json] "
    "[device=cpu|cuda] [kid=true] [kid_subsets=100] [kid_subset_size=1000] [is_splits=10] [protocol=false]"
)
DEFAULTS: dict[str, Any] = {
    "ckpt_path": None,
    "num_samples": 10_000,
    "fid": "auto",
    "classifier": None,
    "weights_path": None,
    "batch_size": 250,
    "cache_dir": None,
    "out": None,
    "device": "cpu",
    "kid": True,
    "kid_subsets": 100,
    "kid_subset_size": 1000,
    "is_splits": 10,
    "protocol": False,
}


def evaluate_module(module: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Metrics of a loaded module per the evaluation protocol (the same code paths as the callbacks)."""
    from ..metrics.evaluator import ImageEvaluator
    from ..metrics.fid import inception_available

    n = int(args["num_samples"])
    if n < 2:
        raise ConfigError(f"num_samples must be >= 2, got {n}")
    results: dict[str, Any] = {"generation": int(module.generation), "num_samples": n}
    if module.data_info["kind"] == "toy":
        from ..metrics.toy import evaluate_toy, toy_protocol

        image_only = [k for k in ("classifier", "protocol") if args.get(k)]
        if image_only:
            raise ConfigError(
                f"{', '.join(image_only)}= applies to image checkpoints; this one is on toy data "
                f"({module.cfg['data']['name']}), which is scored by its toy metrics: drop {image_only[0]}="
            )

        results.update(evaluate_toy(module, n))
        results["toy/protocol"] = toy_protocol(n, module.seed)
        return results
    data_cfg = module.cfg["data"]
    fid = str(args["fid"]).lower()
    if fid not in ("auto", "true", "false"):
        raise ConfigError(f"fid must be auto, true or false, got {args['fid']!r}")
    if fid == "auto":
        available, reason = inception_available(args["weights_path"])
        fid = "true" if available else "false"
        if not available:
            print(f"[evogan] Inception FID/IS skipped ({reason.split(';')[0]}); fid=true to require it")
    common = {
        "num_samples": n,
        "batch_size": int(args["batch_size"]),
        "kid": bool(args["kid"]),
        "kid_subsets": int(args["kid_subsets"]),
        "kid_subset_size": int(args["kid_subset_size"]),
        "cache_dir": args["cache_dir"],
    }
    evaluators = []
    if fid == "true":
        evaluators.append(
            ImageEvaluator(
                "inception",
                weights_path=args["weights_path"],
                is_splits=int(args["is_splits"]),
                allow_download=True,
                **common,
            )
        )
    if args["protocol"]:
        if not args["classifier"]:
            raise ConfigError(
                "protocol=true scores in a classifier's features: pass classifier=FILE.pt ("
                "evogan-train-classifier data=fashion_mnist data.root=... out=FILE.pt)"
            )
        from ..metrics.image_protocol import ImageProtocol

        protocol = ImageProtocol(
            str(args["classifier"]), data_cfg, num_samples=n, batch_size=int(args["batch_size"])
        )
        results.update(protocol.score_module(module))
        results["test/protocol"] = protocol.protocol()
    elif args["classifier"]:
        evaluators.append(ImageEvaluator("classifier", classifier=str(args["classifier"]), **common))
    if not evaluators and not args["protocol"]:
        raise ConfigError(
            "nothing to compute for image data: no Inception weights (fid=auto found none) and no "
            "classifier=FILE; pass classifier=FILE.pt (evogan-train-classifier) or "
            "Inception weights (weights_path=FILE or $EVOGAN_INCEPTION_WEIGHTS)"
        )
    for evaluator in evaluators:
        evaluator.prepare(data_cfg, tuple(module.shape), device=module.device, seed=module.seed)
        results.update(evaluator.evaluate(module))
        results[f"val/{evaluator.label}_protocol"] = evaluator.protocol()
    return results


def format_table(results: dict[str, Any]) -> str:
    """Two-column text table (protocol strings last)."""
    numbers = {k: v for k, v in results.items() if not isinstance(v, str)}
    strings = {k: v for k, v in results.items() if isinstance(v, str)}
    width = max(len(k) for k in results)
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 12}"]
    for k, v in numbers.items():
        shown = f"{v:.6g}" if isinstance(v, float) else str(v)
        lines.append(f"{k:<{width}}  {shown}")
    lines += [f"{k:<{width}}  {v}" for k, v in strings.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from ..run.checks import check_writable_folder, write_output
    from .cli_common import load_module, parse_args

    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parse_args(argv, DEFAULTS, USAGE)
        if not args["ckpt_path"]:
            raise ConfigError(f"ckpt_path is required\n{USAGE}")
        module = load_module(args["ckpt_path"], args["device"])
        out = Path(args["out"]) if args["out"] else Path(args["ckpt_path"]).parent / "eval.json"
        check_writable_folder(out.parent, "out")  # before the evaluation, not after it
        with torch.no_grad():
            results = evaluate_module(module, args)
        results["ckpt_path"] = str(args["ckpt_path"])
        clean = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in results.items()
        }
        write_output(out, lambda f: f.write(json.dumps(clean, indent=2, sort_keys=True).encode()), "out")
    except (ConfigError, DivergedError, FileNotFoundError) as err:
        print(f"evogan-evaluate: error: {err}", file=sys.stderr)
        return 2
    print(format_table(results))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
