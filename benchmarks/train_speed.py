"""Training speed: our LightningModule under a Trainer vs a bare PyTorch loop, side by side.

Both train the same `MelodyLSTM` (same options, batch size, seq_len, Adam, clipping at norm
1.0) on the same batches; tokens/s is measured after warm-up batches, in alternating rounds,
and the best round of each counts. Prints the ratio (goal: >= 0.9) and the share of real,
non-PAD target tokens with each packing (goal: >= 90% for the chosen one).

    python benchmarks/train_speed.py                      # synthetic corpus, folk model sizes
    python benchmarks/train_speed.py --data corpora/folk --device cuda --steps 50
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
from melodyrnn.fit.module import MelodyLightningModule
from melodyrnn.models.network import MelodyLSTM


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


def main() -> None:
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
    parser.add_argument("--precision", default="32-true", choices=["32-true", "bf16-mixed"])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.data or write_synthetic_dataset(Path(tmp) / "synthetic", args.melodies)
        data = MelodyDataModule(str(path), batch_size=args.batch_size, seq_len=args.seq_len,
                                packing=args.packing)
        options = {"embedding_dim": args.embedding_dim, "hidden_size": args.hidden_size,
                   "num_layers": args.num_layers, "dropout": 0.2}
        tokens = args.steps * args.batch_size * args.seq_len  # positions per round, both sides
        lightning_s, bare_s = [], []
        for round_ in range(args.rounds):
            # alternate which side goes first, so neither always meets a cold or warm machine
            sides = [(bare_s, time_bare_loop), (lightning_s, time_lightning)]
            for seconds, timer in sides[::-1] if round_ % 2 else sides:
                torch.manual_seed(0)
                seconds.append(timer(data, options, args))
            print(f"round {round_ + 1}: bare {tokens / bare_s[-1]:,.0f} tokens/s, Lightning "
                  f"{tokens / lightning_s[-1]:,.0f} tokens/s")
        bare, lightning = tokens / min(bare_s), tokens / min(lightning_s)
        print(f"device {args.device}, {torch.get_num_threads()} threads, precision "
              f"{args.precision}; LSTM {args.num_layers}x{args.hidden_size}, embedding "
              f"{args.embedding_dim}, batch {args.batch_size} x seq_len {args.seq_len}, "
              f"{args.steps} timed batches x {args.rounds} rounds after {args.warmup} warm-up")
        print(f"bare PyTorch loop: {bare:12,.0f} tokens/s")
        print(f"Lightning module : {lightning:12,.0f} tokens/s")
        print(f"ratio Lightning / bare: {lightning / bare:.3f}  (goal >= 0.9)")
        for packing in ("pack", "pad"):
            share = MelodyDataModule(str(path), batch_size=args.batch_size, seq_len=args.seq_len,
                                     packing=packing).real_token_share("train")
            chosen = "  <- chosen" if packing == args.packing else ""
            print(f"real (non-PAD) target share, {packing}: {share:.1%}  (goal >= 90%){chosen}")


if __name__ == "__main__":
    main()
