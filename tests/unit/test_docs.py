"""The algorithm specification the code cites is in the repository, and every cited section exists."""

import re

from conftest import REPO
from omegaconf import OmegaConf

ROOT = REPO
CITE = re.compile(r'docs/algorithms\.md, "([^"]+)"')


def test_every_section_the_code_cites_exists():
    spec = (ROOT / "docs" / "algorithms.md").read_text()
    headings = [line[3:] for line in spec.splitlines() if line.startswith("## ")]
    cited = {}
    for path in [*ROOT.glob("evogan_lightning/**/*.py"), *ROOT.glob("conf/**/*.yaml")]:
        for section in CITE.findall(path.read_text()):
            cited.setdefault(section, path.relative_to(ROOT))
    assert {"E-GAN", "CE-GAN", "GAGAN", "Networks"} <= set(cited)  # the docstrings do cite it
    missing = {s: str(p) for s, p in cited.items() if not any(h.startswith(s) for h in headings)}
    assert not missing, f"cited sections without a heading in docs/algorithms.md: {missing}"


def test_the_spec_names_the_options_the_code_offers():
    spec = (ROOT / "docs" / "algorithms.md").read_text()
    for option in (
        "distill_reduction",
        "crossover_start",
        "crossover_optimizer",
        "crossover_teacher",
        "distill_step",
        "mutation_scope",
        "lr_schedule",
    ):
        assert f"`{option}" in spec, option


def test_the_help_lists_every_config_option(capsys, monkeypatch):
    """``python -m evogan_lightning --help`` (conf/hydra/help/evogan.yaml) names every option of every config
    group under conf/, and no internal group (the typed schemas' ``schema/algo``). ``conf/study`` holds the
    study tool's algorithms (``evogan-study algos=...``), not a training option."""
    from helpers import run_main_in_process

    code, out = run_main_in_process(["--help"], capsys, monkeypatch)
    assert code == 0 and "is powered by Hydra" not in out and "schema" not in out
    groups = sorted(
        p.name for p in (ROOT / "conf").iterdir() if p.is_dir() and p.name not in ("hydra", "study")
    )
    assert len(groups) == 7
    for group in groups:
        line = next(x for x in out.splitlines() if x.strip().startswith(f"{group}:"))
        for option in (ROOT / "conf" / group).glob("*.yaml"):
            assert option.stem in line, (group, option.stem)


# ---------------------------------------------------------------------------------------------- commands
COMMAND = re.compile(
    r"(?:python -m evogan_lightning(?:\.tools\.(\w+))?|\bevogan-(sample|evaluate|summarize|study|benchmark|train-classifier))"
    r"((?:[ \t]+[^\s`|#][^ \t`|]*)*)"
)
DOC_FILES = ["README.md", *(f"docs/{p.name}" for p in sorted((ROOT / "docs").glob("*.md")))]


def documented_commands() -> list[tuple[str, str, list[str]]]:
    """``(file, tool, argv)`` of every ``python -m evogan_lightning ...`` (tool "") and ``evogan-<tool> ...``
    (or ``python -m evogan_lightning.tools.<tool>``) in README.md and docs/ (code blocks and inline code), with
    shell quoting undone and line continuations joined."""
    import shlex

    found = []
    for name in DOC_FILES:
        text = (ROOT / name).read_text().replace("\\\n", " ")
        for line in text.splitlines():
            for match in COMMAND.finditer(line):
                tool = (match.group(1) or match.group(2) or "").replace("-", "_")
                rest = match.group(3).split(" # ")[0]
                try:
                    argv = shlex.split(rest)
                except ValueError:  # an unbalanced quote inside a longer inline snippet: take what parses
                    argv = rest.split()
                found.append((name, tool, [a for a in argv if a not in ("&&", ";")]))
    return found


def _expand_sweep(argv: list[str]) -> list[list[str]]:
    """A multirun's ``key=a,b`` values -> one argv per combination (Hydra's basic sweeper)."""
    import itertools

    choices = []
    for a in argv:
        key, _, value = a.partition("=")
        plain = "," in value and not value.startswith(("[", "'[", "{")) and not key.startswith("hydra.")
        choices.append([f"{key}={v}" for v in value.split(",")] if plain else [a])
    return [list(c) for c in itertools.product(*choices)]


def test_every_documented_training_command_composes_and_validates():
    """Each documented ``python -m evogan_lightning ...`` composes with the shipped configs (every sweep
    combination), has no key that nothing reads, builds its typed algorithm config (cross-field rules such as
    n_c <= C(mu n_m, 2)) and nets that fit its data: the docs cannot drift from the defaults. Data files,
    checkpoints and GPUs are the reader's own and are not checked."""
    from evogan_lightning.algos.config import CONFIGS
    from evogan_lightning.data.datamodule import data_shape
    from evogan_lightning.nets import resolve_net
    from evogan_lightning.run.config import check_keys, compose

    commands = [(f, a) for f, tool, a in documented_commands() if tool == ""]
    assert len(commands) >= 20  # the docs do show commands
    checked = 0
    for name, argv in commands:
        argv = [a for a in argv if a not in ("-m", "--multirun", "--help", "--cfg", "job")]
        argv = [a for a in argv if "<" not in a and not a.startswith(("hydra/launcher", "hydra.launcher"))]
        for combo in _expand_sweep(argv):
            overrides = [a for a in combo if not a.startswith("hydra.")]
            try:
                cfg = compose(overrides, output_dir=".")
                plain = OmegaConf.to_container(cfg, resolve=True)
                check_keys(OmegaConf.to_container(cfg, resolve=False))
                CONFIGS[plain["algo"]["name"]].build(plain["algo"])
                resolve_net(plain["net"], tuple(data_shape(plain["data"])))
            except Exception as err:  # noqa: BLE001 - report which command in which file
                raise AssertionError(
                    f"{name}: python -m evogan_lightning {' '.join(combo)}\n  -> {err}"
                ) from err
            checked += 1
    assert checked >= len(commands)


def test_every_documented_tool_command_uses_the_tools_own_arguments():
    import importlib

    for name, tool, argv in documented_commands():
        if not tool:
            continue
        module = importlib.import_module(f"evogan_lightning.tools.{tool}")
        usage = module.USAGE
        for arg in argv:
            if "=" in arg and not arg.startswith(("-", "data", "'")):
                key = arg.split("=", 1)[0]
                assert f"{key}=" in usage or f"[{key}" in usage, f"{name}: {tool} has no argument {key!r}"
