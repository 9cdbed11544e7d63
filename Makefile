# The project's two commands: `make demo` (the main job) and `make test` (everything CI checks).
# Each does its own set-up: uv (pinned) into .tools/, then the locked environment into .venv/.
UV_VERSION := 0.13.9
PYTHON ?= python3
UV := .tools/bin/uv
VENV := .venv
MEMBERS := $(wildcard packages/*/pyproject.toml apps/*/pyproject.toml)

.PHONY: install demo test lint format bench bench-blocks official-speech gpu-check clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# --locked fails when uv.lock no longer matches the pyproject files instead of silently re-resolving;
# --inexact keeps what `uv sync --group bench` added (the benchmarks' reference implementations).
$(VENV)/.synced: $(UV) uv.lock pyproject.toml $(MEMBERS)
	$(UV) sync --locked --inexact
	@touch $@

install: $(VENV)/.synced

## Main job: train a small RePaViT on the bundled digits, merge it, compare accuracy and speed.
demo: install
	$(VENV)/bin/ffn-vision demo

## Everything CI runs: lint, format check, then the default test suite (slow and gpu tests excluded).
test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/python -m pytest

lint: install
	$(VENV)/bin/ruff check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## The cross-domain study: every app x MLP, SwiGLU, LowRankMLP, BlockDenseMLP, RePaMLP, KANLayer, MoEMLP.
bench: install
	$(VENV)/bin/ffn-bench

bench-blocks: install
	$(VENV)/bin/ffn-bench-blocks

## ClearerVoice-Studio's MossFormer2 code beside ours, in an environment of its own (it pins numpy<2): the
## side-by-side tests (same parameters, same outputs from the same weights), then the training step of both
## at the full config (`ffn-speech bench-official`, BENCHMARKS.md section speech-official).
official-speech: $(UV)
	UV_PROJECT_ENVIRONMENT=.venv-official $(UV) sync --locked --group official-speech
	.venv-official/bin/python -m pytest apps/speech/tests/test_official.py
	.venv-official/bin/ffn-speech bench-official

## On a machine with a CUDA GPU (the `device` tool's), at most 8 minutes: the GPU suite (every app on CUDA
## in fp32 and bf16-mixed, exact merging, 1-GPU DDP, FloydNet's memory estimate, `ffn-speech separate`),
## then the GPU benchmarks (RePaViT merge, PoolFormer vs timm, compiled steps, NBFNet UMLS, TSMixer H=96).
gpu-check: install
	bash .ci/gpu-check

clean:
	rm -rf .tools $(VENV) .venv-official runs
