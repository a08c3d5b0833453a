"""benchmarks/train_speed.py: its refusals, its FLOP and MFU lines, and a bfloat16 run on CPU."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from types import ModuleType

import pytest
import torch

from melodyrnn.models.flops import flops_per_token
from melodyrnn.models.network import NetworkConfig

TINY = ["--melodies", "40", "--batch-size", "4", "--seq-len", "16", "--hidden-size", "16",
        "--embedding-dim", "8", "--num-layers", "1", "--warmup", "1", "--steps", "2",
        "--rounds", "1", "--device", "cpu"]


@pytest.fixture(scope="module")
def train_speed(benchmark_module: Callable[[str], ModuleType]) -> ModuleType:
    """benchmarks/train_speed.py"""
    return benchmark_module("train_speed")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is there: --device cuda can run")
def test_cuda_without_cuda_is_refused_in_one_sentence(train_speed: ModuleType,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        train_speed.parse_args(["--device", "cuda"])
    assert stop.value.code == 2
    assert "--device cuda: torch sees no CUDA device here" in capsys.readouterr().err


@pytest.mark.parametrize("flag", [["--peak-tflops", "0"], ["--steps", "0"], ["--warmup", "-1"]])
def test_bad_values_are_refused(train_speed: ModuleType, flag: list[str],
                                capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        train_speed.parse_args(["--device", "cpu", *flag])
    assert f"{flag[0]} has to be" in capsys.readouterr().err


def test_flops_lines_give_mfu_against_the_given_peak(train_speed: ModuleType) -> None:
    config = NetworkConfig(40, embedding_dim=8, hidden_size=16, num_layers=2)
    per_token = flops_per_token(config, training=True)
    args = argparse.Namespace(device="cpu", precision="32-true", peak_tflops=2.0)
    lines = train_speed.flops_report(config, {"bare": 1e12 / per_token}, args)
    assert lines[0].endswith(f"{per_token:,}")
    assert lines[1] == "bare:    1,000.0 GFLOP/s, MFU 50.00% of 2 TFLOP/s (--peak-tflops)"
    args.peak_tflops = None  # a CPU has no data-sheet peak: FLOP/s only
    lines = train_speed.flops_report(config, {"bare": 1e12 / per_token}, args)
    assert "MFU" not in lines[1]
    assert lines[-1] == "no MFU: a CPU has no default peak; give --peak-tflops"


def test_bf16_mixed_runs_on_cpu(train_speed: ModuleType,
                                capsys: pytest.CaptureFixture[str]) -> None:
    mkldnn = torch.backends.mkldnn.enabled
    try:
        train_speed.main([*TINY, "--precision", "bf16-mixed", "--peak-tflops", "1"])
    finally:
        torch.backends.mkldnn.enabled = mkldnn  # the benchmark may turn oneDNN off
    out = capsys.readouterr().out
    assert "precision bf16-mixed" in out
    assert "ratio Lightning / bare:" in out
    assert out.count("GFLOP/s, MFU") == 2
