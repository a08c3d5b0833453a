"""Training speed: our LightningModule under a Trainer vs a bare PyTorch loop, side by side.

Both train the same `MelodyLSTM` (same options, batch size, seq_len, Adam, clipping at norm
1.0) on the same batches; tokens/s is measured after warm-up batches, in alternating rounds,
and the best round of each counts. Prints the ratio (goal: >= 0.9) and the share of real,
non-PAD target tokens with each packing (goal: >= 90% for the chosen one).

`--precision bf16-mixed` trains both sides in bfloat16 autocast: Lightning's precision plugin
on the Lightning side, `torch.autocast(device, torch.bfloat16)` around the forward of the bare
loop (the loss in float32 on both), so the ratio stays like for like. On a CPU this runs
torch's CPU autocast: it shows the path works and says nothing about a GPU. A CPU whose oneDNN
has no bfloat16 LSTM (no bfloat16 instructions) cannot run the LSTM under autocast at all, so
there oneDNN is turned off on both sides and a note says so: the LSTM then runs in float32 on
torch's own, slower kernel and only the decoder in bfloat16.

Model FLOP utilisation (MFU): the network's training FLOPs per token, counted from its options
by `melodyrnn.models.flops.flops_per_token(config, training=True)` (per layer 2*4*(in+H)*H for
an LSTM, 2*H*V for the decoder, times 3 for forward and backward), times the tokens per second
(every position of every window, PAD included, as the network computes them all), over the
chip's peak. The peak is `--peak-tflops`, by default the data-sheet dense figure of a known
CUDA chip at the chosen precision (`melodyrnn.models.flops.PEAK_TFLOPS`: H100/H200 989 TFLOP/s
bf16, 494.7 TF32, which cuDNN uses for float32 by default; A100 312 bf16, 156 TF32). A CPU
has no default peak: without --peak-tflops only the achieved GFLOP/s is printed.

    python benchmarks/train_speed.py                      # synthetic corpus, folk model sizes
    python benchmarks/train_speed.py --precision bf16-mixed --steps 3 --rounds 1   # CPU path
    python benchmarks/train_speed.py --data corpora/folk --device cuda --steps 50
    python benchmarks/train_speed.py --device cuda --precision bf16-mixed --batch-size 256
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from melodyrnn.fit.datamodule import MelodyDataModule
from melodyrnn.fit.module import MelodyLightningModule, cpu_autocast_runs_lstm
from melodyrnn.models.flops import flops_per_token, peak_tflops
from melodyrnn.models.network import MelodyLSTM, NetworkConfig

PRECISIONS = ("32-true", "bf16-mixed")


def write_synthetic_dataset(directory: Path, n_melodies: int, seed: int = 0) -> Path:
    """A dataset of random-walk melodies of 40-600 tokens in a note-event vocabulary."""
    import json

    from melodyrnn.prepare.shards import write_split

    vocab = ["PAD", "BOS", "EOS", "Bar", *(f"Pitch_{p}" for p in range(48, 85)),
             *(f"Duration_{d}" for d in range(1, 17))]
    pitch0, duration0 = vocab.index("Pitch_48"), vocab.index("Duration_1")
    rng = np.random.default_rng(seed)
    melodies = []
    for _ in range(n_melodies):
        n_notes = int(rng.integers(20, 300))
        pitches = np.clip(18 + np.cumsum(rng.integers(-3, 4, n_notes)), 0, 36) + pitch0
        durations = rng.choice([2, 4, 4, 8], n_notes) - 1 + duration0
        ids = np.empty(2 * n_notes + 2, dtype=np.int64)
        ids[0], ids[-1] = vocab.index("BOS"), vocab.index("EOS")
        ids[1:-1:2], ids[2:-1:2] = pitches, durations
        melodies.append(ids.tolist())
    directory.mkdir(parents=True, exist_ok=True)
    n_valid = max(1, n_melodies // 20)
    write_split(directory, "train", melodies[n_valid:])
    write_split(directory, "valid", melodies[:n_valid])
    (directory / "tokenizer.json").write_text(json.dumps({"name": "note", "options": {},
                                                          "vocab": vocab}))
    (directory / "manifest.json").write_text(json.dumps({"corpus": "synthetic-random-walk"}))
    return directory


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


class _Timer(L.Callback):
    """Wall time from the start of batch `warmup` to the end of the last batch."""

    def __init__(self, warmup: int, device: str) -> None:
        self.warmup, self.device, self.seen = warmup, device, 0
        self.start = self.stop = 0.0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if self.seen == self.warmup:
            _sync(self.device)
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.seen += 1
        _sync(self.device)
        self.stop = time.perf_counter()


def time_lightning(data: MelodyDataModule, options: dict, args: argparse.Namespace) -> float:
    """Seconds for `args.steps` batches of MelodyLightningModule.fit after warm-up."""
    module = MelodyLightningModule(data.vocab_size, pad_id=data.pad_id, lr=2e-3,
                                   grad_clip_norm=1.0, tokenizer=data.tokenizer, **options)
    timer = _Timer(args.warmup, args.device)
    trainer = L.Trainer(accelerator=args.device, devices=1, max_steps=args.warmup + args.steps,
                        limit_val_batches=0, num_sanity_val_steps=0, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[timer], precision=args.precision)
    trainer.fit(module, train_dataloaders=data.train_dataloader())
    return timer.stop - timer.start


def time_bare_loop(data: MelodyDataModule, options: dict, args: argparse.Namespace) -> float:
    """Seconds for `args.steps` batches of a plain PyTorch training loop after warm-up."""
    network = MelodyLSTM(data.vocab_size, pad_id=data.pad_id, **options).to(args.device).train()
    optimizer = torch.optim.Adam(network.parameters(), lr=2e-3)
    autocast = torch.autocast(args.device, dtype=torch.bfloat16,
                              enabled=args.precision == "bf16-mixed")
    step, start = 0, 0.0
    while step < args.warmup + args.steps:
        for inputs, targets in data.train_dataloader():
            if step == args.warmup:
                _sync(args.device)
                start = time.perf_counter()
            inputs, targets = inputs.to(args.device), targets.to(args.device)
            optimizer.zero_grad()
            with autocast:
                logits, _ = network(inputs)  # (B, T, V)
            loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)),
                                   targets.reshape(-1), ignore_index=data.pad_id)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimizer.step()
            step += 1
            if step == args.warmup + args.steps:
                break
    _sync(args.device)
    return time.perf_counter() - start


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, refused in one sentence where it cannot run here."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a prepared dataset (default: synthetic)")
    parser.add_argument("--melodies", type=int, default=2000, help="synthetic corpus size")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--embedding-dim", type=int, default=128)
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--packing", choices=["pack", "pad"], default="pack")
    parser.add_argument("--warmup", type=int, default=3, help="batches before timing starts")
    parser.add_argument("--steps", type=int, default=10, help="timed batches per round")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds; best counts")
    parser.add_argument("--device", choices=["cpu", "cuda"],
                        default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", default="32-true", choices=PRECISIONS,
                        help="32-true, or bf16-mixed (bfloat16 autocast on both sides)")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="the chip's peak TFLOP/s at this precision, for MFU (default: "
                             "the data sheet's for H100, H200, A100; none on a CPU)")
    args = parser.parse_args(argv)
    for name in ("melodies", "batch_size", "seq_len", "embedding_dim", "hidden_size",
                 "num_layers", "steps", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} has to be 1 or more, got "
                         f"{getattr(args, name)}")
    if args.warmup < 0:
        parser.error(f"--warmup has to be 0 or more, got {args.warmup}")
    if args.peak_tflops is not None and not args.peak_tflops > 0:
        parser.error(f"--peak-tflops has to be greater than 0, got {args.peak_tflops}")
    if args.device == "cuda" and not torch.cuda.is_available():
        built = f"torch {torch.__version__}"
        built += "" if torch.version.cuda else ", built without CUDA"
        parser.error(f"--device cuda: torch sees no CUDA device here ({built}); use --device "
                     "cpu, or run on a machine with a GPU")
    if args.device == "cuda" and args.precision == "bf16-mixed" \
            and not torch.cuda.is_bf16_supported():
        parser.error(f"--precision bf16-mixed: {torch.cuda.get_device_name()} has no bfloat16; "
                     "use --precision 32-true")
    return args


def device_name(device: str) -> str:
    """The CUDA device's name, or the CPU's as the platform gives it."""
    if device == "cuda":
        return torch.cuda.get_device_name()
    import platform

    return platform.processor() or platform.machine() or "cpu"


def flops_report(config: NetworkConfig, rates: dict[str, float], args: argparse.Namespace
                 ) -> list[str]:
    """Lines of model FLOPs per token, achieved FLOP/s per side, and MFU where a peak is known."""
    per_token = flops_per_token(config, training=True)
    name = device_name(args.device)
    peak = args.peak_tflops
    source = "--peak-tflops"
    if peak is None and args.device == "cuda":
        peak, source = peak_tflops(name, args.precision), "data sheet"
    lines = [f"model FLOPs per token (training, forward + backward): {per_token:,}"]
    for side, tokens_per_s in rates.items():
        achieved = tokens_per_s * per_token  # FLOP/s
        line = f"{side}: {achieved / 1e9:10,.1f} GFLOP/s"
        if peak is not None:
            line += f", MFU {achieved / (peak * 1e12):.2%} of {peak:g} TFLOP/s ({source})"
        lines.append(line)
    if peak is None:
        what = "a CPU has no default peak" if args.device == "cpu" else \
            f"no data-sheet peak for {name} at {args.precision}"
        lines.append(f"no MFU: {what}; give --peak-tflops")
    return lines


def cpu_bfloat16_note(args: argparse.Namespace) -> str | None:
    """On a CPU whose oneDNN has no bfloat16 LSTM, turn oneDNN off (both sides); what that means."""
    if args.device != "cpu" or args.precision != "bf16-mixed" or cpu_autocast_runs_lstm():
        return None
    # torch's own LSTM kernel, which autocast leaves fp32 (the flag's stub types it as a property)
    torch.backends.mkldnn.enabled = False  # type: ignore[assignment]
    return ("note: this CPU's oneDNN has no bfloat16 LSTM, so oneDNN is off on both sides: the "
            "LSTM runs in float32, the decoder in bfloat16")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    note = cpu_bfloat16_note(args)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.data or write_synthetic_dataset(Path(tmp) / "synthetic", args.melodies)
        data = MelodyDataModule(str(path), batch_size=args.batch_size, seq_len=args.seq_len,
                                packing=args.packing)
        options = {"embedding_dim": args.embedding_dim, "hidden_size": args.hidden_size,
                   "num_layers": args.num_layers, "dropout": 0.2}
        tokens = args.steps * args.batch_size * args.seq_len  # positions per round, both sides
        lightning_s: list[float] = []
        bare_s: list[float] = []
        for round_ in range(args.rounds):
            # alternate which side goes first, so neither always meets a cold or warm machine
            sides = [(bare_s, time_bare_loop), (lightning_s, time_lightning)]
            for seconds, timer in sides[::-1] if round_ % 2 else sides:
                torch.manual_seed(0)
                seconds.append(timer(data, options, args))
            print(f"round {round_ + 1}: bare {tokens / bare_s[-1]:,.0f} tokens/s, Lightning "
                  f"{tokens / lightning_s[-1]:,.0f} tokens/s")
        bare, lightning = tokens / min(bare_s), tokens / min(lightning_s)
        print(f"device {args.device} ({device_name(args.device)}), {torch.get_num_threads()} "
              f"threads, precision {args.precision}; LSTM {args.num_layers}x{args.hidden_size}, "
              f"embedding {args.embedding_dim}, batch {args.batch_size} x seq_len "
              f"{args.seq_len}, {args.steps} timed batches x {args.rounds} rounds after "
              f"{args.warmup} warm-up")
        print(f"bare PyTorch loop: {bare:12,.0f} tokens/s")
        print(f"Lightning module : {lightning:12,.0f} tokens/s")
        print(f"ratio Lightning / bare: {lightning / bare:.3f}  (goal >= 0.9)")
        config = NetworkConfig(data.vocab_size, pad_id=data.pad_id, **options)
        for line in flops_report(config, {"bare PyTorch loop": bare,
                                          "Lightning module ": lightning}, args):
            print(line)
        if note:
            print(note)
        for packing in ("pack", "pad"):
            share = MelodyDataModule(str(path), batch_size=args.batch_size, seq_len=args.seq_len,
                                     packing=packing).real_token_share("train")
            chosen = "  <- chosen" if packing == args.packing else ""
            print(f"real (non-PAD) target share, {packing}: {share:.1%}  (goal >= 90%){chosen}")


if __name__ == "__main__":
    main()
