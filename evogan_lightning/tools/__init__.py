"""The command-line tools behind ``python -m evogan_lightning[.<tool>]`` (the thin modules at the package's top
level keep those commands): ``train_cli`` (the Hydra entry point's body), ``evaluate``, ``sample``,
``summarize``, ``benchmark``, ``train_classifier``, ``study``, and ``cli_common`` (their argument parser and
checkpoint loader)."""
