"""Run plumbing: one training run (``train``) and what it stands on: config composition, input checks, run
folders and locks, resume, DDP scaling, console and CSV logging, checkpoint reading. Import the modules
themselves (``evogan_lightning.run.train``); this file imports nothing, so importing one run module never
pulls in ``run.train`` (tests/unit/test_layers.py). The low helpers every layer uses live in ``core``."""
