"""tools/preflight.py: command-line checks that must run before Hydra composes anything."""

import pytest

from evogan_lightning.core.errors import ConfigError
from evogan_lightning.tools.preflight import check_net_keys, check_run_dir


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["net.hidden=0"], "net=auto has no option 'hidden' (net=auto picks a family"),
        (["net.latent_dim=4"], "choose a family that has it: net=dcgan64, net=egan32, net=mlp, net=mnist28"),
        (["experiment=fmnist_fast", "net.hidden=8"], "net=mnist28 has no option 'hidden'; choose"),
        (["net=mlp", "net.g_width=8"], "net=mnist28"),
    ],
)
def test_a_net_key_the_family_lacks_names_the_families_that_have_it(argv, needle):
    with pytest.raises(ConfigError) as err:
        check_net_keys(argv)
    assert needle in str(err.value)


@pytest.mark.parametrize(
    "argv",
    [
        ["net=mlp", "net.hidden=64"],
        ["experiment=fmnist_fast", "net.g_width=8"],
        ["net=mlp,mnist28", "net.hidden=8"],  # a sweep over families: Hydra decides per job
        ["algo=egan", "seed=1"],
    ],
)
def test_net_keys_the_family_has_pass(argv):
    check_net_keys(argv)


def test_a_run_folder_below_a_file_is_refused(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="afile is a file, not a folder; choose another hydra.run.dir"):
        check_run_dir([f"hydra.run.dir={tmp_path}/afile/run"])
    check_run_dir([f"hydra.run.dir={tmp_path}/new/run", "hydra.sweep.dir=multirun/${now:%H}"])
