"""What lookback inputs and attention cost: features of a split, training steps, sampling.

Three measurements on a prepared dataset whose tokenizer has meter tokens (the folk corpus):

- features: `stream_features` over the whole train split, as `MelodyDataModule.setup` computes
  them once per split with `--model.lookback true` (tokens per second, best of the rounds);
- training step: forward, backward and an Adam step of `MelodyLSTM` at the folk model's sizes
  (2 x 256, embedding 128) on one batch of `--batch-size` x `--seq-len` from the data module,
  for four networks: plain, lookback, attention `--attention`, and both;
- sampling: `sample_ids` drawing `--num` melodies of `--tokens` tokens (EOS held back by a note
  target nobody reaches, as in generate_speed.py), one token per step, same four networks.

Networks are untrained: speed does not depend on the weights. Variants alternate within each
round and the best round of each counts; times are printed with the ratio to the plain network.
Torch runs on one thread unless `--threads` says otherwise (see generate_speed.py: on a machine
whose cores are busy, two threads wait on each other).

    python benchmarks/lookback_attention.py --data corpora/folk
    python benchmarks/lookback_attention.py --data corpora/folk --batch-size 64 --rounds 5
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from melodyrnn.fit.datamodule import MelodyDataModule
from melodyrnn.generate.sample import sample_ids
from melodyrnn.generate.settings import SampleSettings
from melodyrnn.models.lookback import stream_features
from melodyrnn.models.network import MelodyLSTM
from melodyrnn.prepare.shards import read_split
from melodyrnn.tokenizers import load_tokenizer

UNREACHABLE_NOTES = 10**9  # EOS only when the token cap forces it


def time_features(data: Path, rounds: int) -> tuple[int, float]:
    """(tokens, best seconds) of the train split's lookback features."""
    tokenizer = load_tokenizer(data / "tokenizer.json")
    tokens = read_split(data, "train").tokens
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        stream_features(tokenizer, tokens)
        best = min(best, time.perf_counter() - start)
    return len(tokens), best


def time_training_step(network: MelodyLSTM, batch: tuple[torch.Tensor, ...],
                       steps: int) -> float:
    """Best seconds of one optimizer step on `batch` (after one warm-up step)."""
    inputs, targets, features = batch
    lookback = features if network.config.lookback else None
    optimizer = torch.optim.Adam(network.parameters(), lr=2e-3)
    network.train()
    best = float("inf")
    for step in range(steps + 1):
        start = time.perf_counter()
        optimizer.zero_grad()
        logits, _ = network(inputs, None, lookback)  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                               ignore_index=network.config.pad_id)
        loss.backward()
        optimizer.step()
        if step:  # the first step warms the allocator up
            best = min(best, time.perf_counter() - start)
    return best


def time_sampling(network: MelodyLSTM, tokenizer: object, num: int, tokens: int) -> float:
    """Seconds to draw `num` melodies of `tokens` tokens, one token per step."""
    settings = SampleSettings(temperature=1.0, max_tokens=tokens, notes=UNREACHABLE_NOTES)
    prefix = tokenizer.encode_prefix("4/4")  # type: ignore[attr-defined]
    start = time.perf_counter()
    sample_ids(network.eval(), tokenizer, prefix, num, settings, seed=0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("corpora/folk"),
                        help="a prepared dataset whose tokenizer has meter tokens")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--attention", type=int, default=40, help="the attention window")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per round")
    parser.add_argument("--num", type=int, default=8, help="melodies sampled at once")
    parser.add_argument("--tokens", type=int, default=256, help="tokens per sampled melody")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best counts")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    n_tokens, seconds = time_features(args.data, args.rounds)
    print(f"lookback features of {args.data}/train: {n_tokens:,} tokens in {seconds:.2f} s "
          f"({n_tokens / seconds:,.0f} tokens/s)")

    data = MelodyDataModule(str(args.data), batch_size=args.batch_size, seq_len=args.seq_len,
                            lookback=True)
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    tokenizer = load_tokenizer(data.tokenizer)
    variants = {"plain": {}, "lookback": {"lookback": True},
                f"attention {args.attention}": {"attention": args.attention},
                "both": {"lookback": True, "attention": args.attention}}
    networks = {}
    for name, options in variants.items():
        torch.manual_seed(0)
        networks[name] = MelodyLSTM(data.vocab_size, pad_id=data.pad_id, embedding_dim=128,
                                    hidden_size=256, num_layers=2, dropout=0.2, **options)
    train = {name: float("inf") for name in networks}
    sample = {name: float("inf") for name in networks}
    for _ in range(args.rounds):
        for name, network in networks.items():
            train[name] = min(train[name], time_training_step(network, batch, args.steps))
            sample[name] = min(sample[name], time_sampling(network, tokenizer, args.num,
                                                           args.tokens))
    print(f"{torch.get_num_threads()} threads; LSTM 2x256, embedding 128; training batch "
          f"{args.batch_size} x {args.seq_len}; sampling {args.num} x {args.tokens} tokens; "
          f"best of {args.rounds} rounds")
    for name in networks:
        print(f"{name:14} train step {1000 * train[name]:8.1f} ms "
              f"({train[name] / train['plain']:.2f}x)   sampling {sample[name]:6.2f} s "
              f"({sample[name] / sample['plain']:.2f}x)")


if __name__ == "__main__":
    main()
