"""The algorithm specification the code cites is in the repository, and every cited section exists."""

import re

from conftest import REPO

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
    group, and no internal group (the typed schemas' ``schema/algo``)."""
    from helpers import run_main_in_process

    code, out = run_main_in_process(["--help"], capsys, monkeypatch)
    assert code == 0 and "is powered by Hydra" not in out and "schema" not in out
    for group in ("algo", "data", "net", "experiment", "trainer", "logger", "callbacks"):
        line = next(x for x in out.splitlines() if x.strip().startswith(f"{group}:"))
        for option in (ROOT / "conf" / group).glob("*.yaml"):
            assert option.stem in line, (group, option.stem)
