"""Run plumbing: one training run (``train``) and what it stands on: errors, config composition, input
checks, run folders and locks, resume, DDP scaling, console and CSV logging, memory checks, checkpoint reading,
figure helpers. Import the modules themselves (``evogan_lightning.run.train``); this file imports nothing, so
the low modules (``run.errors``, ``run.memory``) stay importable from ``algos``, ``engine`` and the rest
without pulling in ``run.train`` (tests/unit/test_layers.py)."""
