PYTHON ?= python

.PHONY: install run test test-slow test-gpu bench study lint format clean

install:  ## install the package with the dev tools (pytest, ruff)
	$(PYTHON) -m pip install -e ".[dev]"

run:  ## train the default configuration on embedded toy data (no download)
	$(PYTHON) -m evogan_lightning

test:  ## the default test suite (CPU, about 3 minutes on 2 cores, no downloads)
	$(PYTHON) -m pytest -q

test-slow:  ## slow tests (longer training, real Fashion-MNIST when installed)
	$(PYTHON) -m pytest -q -m slow

test-gpu:  ## CUDA checks (batched vs loop on the GPU, every algorithm on CUDA, 2-GPU DDP); needs a GPU
	$(PYTHON) -m pytest -q -m gpu

bench:  ## ms/generation and peak memory table (bench_results/benchmark.{json,md}) on the device it finds
	$(PYTHON) -m evogan_lightning.tools.benchmark

study:  ## the toy study of README "Results": 7 algorithms x ring8, grid25 x 5 seeds (about an hour on 2 cores)
	$(PYTHON) -m evogan_lightning.tools.study out=studies/toy

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

format:
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

clean:
	rm -rf outputs multirun studies build dist *.egg-info .pytest_cache .ruff_cache wandb lightning_logs
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
