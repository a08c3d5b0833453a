"""Sampling speed: our sampler against a bare PyTorch loop and a naive re-feed loop.

Three ways to draw `--num` melodies of `--tokens` tokens from the same network:

- ours: `melodyrnn.generate.sample.sample_ids`, the loop behind `MelodyModel.generate` and
  `melodyrnn generate` (grammar masks, strategy, one token per step with the state carried);
- floor: a bare batched loop over the same network: one token per step with the state,
  softmax at the temperature, `torch.multinomial`; no grammar and no bookkeeping (a network
  with lookback inputs gets constant "none" features: the same network work);
- naive: the whole sequence so far re-fed at every step, no state carried. That is O(T^2)
  token forwards, so it runs at a smaller size (`--naive-num` x `--naive-tokens`), against
  ours at that same size.

The sampler has no switch that turns EOS off. With `--length full` (the default) it gets a
note target it can never reach, which forbids EOS until the last 12 steps of the cap
(`CAP_MARGIN`), where the sampler closes the note in hand and ends: every melody runs
(nearly) the full length.
`--length free` samples as `generate` does with no length: a melody may end at any EOS, and
the loop runs until the last one ends. Either way the floor runs as many loop steps as ours
did (ours computes only the rows not yet ended); tokens/s counts the tokens each side keeps.
Sides alternate (A B A B ...) and the best round of each counts.

Two goals are measured in the same run, as ratios: ours over the floor at `--num` x `--tokens`
(goal 1.05x), and a single tune of `--single-bars` bars (4/4) over the network forwards it
needed alone, one row, the same number of steps (goal 2x). The model FLOPs of the tokens ours
kept (`models/flops.py`, forward only) give achieved GFLOP/s, and MFU against `--peak-tflops`
or, on CUDA, the data-sheet peak of the chip at `--precision`. `--precision bf16-mixed` runs
the network under `torch.autocast` in bfloat16 (on the CPU too, where it measures torch's CPU
bfloat16 kernels, not what a GPU does, and is refused where oneDNN has no bfloat16 LSTM);
masks and the draw stay in float32.

Torch runs on one thread unless `--threads` says otherwise: on a busy machine two OpenMP
threads wait on each other at every op (about 5x slower at batch 1000, over 100x at batch 1);
on an idle one `--threads 0` (torch's default) is fairer. Each side's best wall and best CPU
seconds are shown: CPU seconds leave out time spent waiting for a busy core.

    /work/venv/bin/python benchmarks/generate_speed.py                   # 1000 x 256, 5 rounds
    /work/venv/bin/python benchmarks/generate_speed.py --model runs/folk/version_0 --rounds 3
    /work/venv/bin/python benchmarks/generate_speed.py --num 200 --tokens 64 --profile
    /work/venv/bin/python benchmarks/generate_speed.py --device cuda --precision bf16-mixed
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import pstats
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from melodyrnn.generate.sample import SampleSettings, sample_ids
from melodyrnn.models.flops import flops_per_token, mfu, peak_tflops
from melodyrnn.models.lookback import N_FEATURES, none_features, uses_lookback
from melodyrnn.models.network import MelodyLSTM

FOLK_TOKENIZER = Path(__file__).resolve().parents[1] / "corpora" / "folk" / "tokenizer.json"
UNREACHABLE_NOTES = 10**9  # a note target no melody reaches: EOS only when the cap forces it
TEMPERATURE = 1.0


@dataclass
class Run:
    """What one timed call did: loop steps, tokens kept, and whether it stopped at the cap."""

    steps: int
    tokens: int
    capped: bool = True
    seqs: list[list[int]] | None = None


def load_network(path: str | None) -> tuple[MelodyLSTM, Any, str]:
    """(network, tokenizer, description): the given or bundled model, else random weights."""
    from melodyrnn.generate.model import DEFAULT_MODEL, load_model
    from melodyrnn.tokenizers import load_tokenizer
    if path or (DEFAULT_MODEL / "bundle.json").is_file():
        model = load_model(path)
        return model.network, model.tokenizer, str(model.path)
    tokenizer = load_tokenizer(FOLK_TOKENIZER)
    torch.manual_seed(0)
    network = MelodyLSTM(vocab_size=tokenizer.vocab_size, cell="lstm", embedding_dim=128,
                         hidden_size=256, num_layers=2).eval()
    return network, tokenizer, (f"random weights, folk shape (no bundle at {DEFAULT_MODEL}); "
                                "tokenizer corpora/folk/tokenizer.json")


def run_ours(network: MelodyLSTM, tokenizer: Any, prefix: list[int], num: int,
             tokens: int, free: bool, seed: int = 0) -> Run:
    """Our sampler, as `generate` calls it with no length (free) or an unreachable one."""
    settings = SampleSettings(temperature=TEMPERATURE, max_tokens=tokens,
                              notes=None if free else UNREACHABLE_NOTES)
    seqs = sample_ids(network, tokenizer, prefix, num, settings, seed=seed,
                      steps_per_bar=4 * tokenizer.steps_per_quarter)
    drawn = [len(s) - len(prefix) for s in seqs]  # a capped row also got one EOS appended
    capped = any(n > tokens for n in drawn)
    return Run(steps=min(tokens, max(drawn)), tokens=sum(min(n, tokens) for n in drawn),
               capped=capped, seqs=seqs)


def constant_features(network: MelodyLSTM, rows: int, tokens: int,
                      device: torch.device) -> torch.Tensor | None:
    """(rows, tokens, 5) "none" lookback features for a network that wants them, else None."""
    if not uses_lookback(network):
        return None
    row = torch.tensor(none_features(network.config.pad_id), device=device)
    return row.view(1, 1, N_FEATURES).expand(rows, tokens, -1)


@torch.inference_mode()
def run_floor(network: MelodyLSTM, prefix: list[int], num: int, steps: int,
              final_forward: bool, seed: int = 0) -> Run:
    """A bare loop: feed one token per step with the state, softmax, multinomial; no grammar.
    `final_forward` feeds the last draw too, as ours does when it stops at the cap."""
    device = next(network.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    ids = torch.tensor([prefix] * num, dtype=torch.long, device=device)  # (B, T0)
    logits, state = network(ids, None, constant_features(network, num, len(prefix), device))
    step_features = constant_features(network, num, 1, device)
    out = torch.empty(num, steps, dtype=torch.long, device=device)
    for step in range(steps):
        probs = torch.softmax(logits[:, -1, :].float() / TEMPERATURE, dim=-1)  # (B, V)
        chosen = torch.multinomial(probs, 1, generator=generator)  # (B, 1)
        out[:, step] = chosen[:, 0]
        if step < steps - 1 or final_forward:
            logits, state = network(chosen, state, step_features)  # (B, 1, V)
    return Run(steps=steps, tokens=out.numel())


@torch.inference_mode()
def run_forwards(network: MelodyLSTM, prefix: list[int], steps: int) -> Run:
    """The network forwards of one tune alone: its prefix, then `steps` one-token steps."""
    device = next(network.parameters()).device
    ids = torch.tensor([prefix], dtype=torch.long, device=device)
    _, state = network(ids, None, constant_features(network, 1, len(prefix), device))
    token, features = ids[:, -1:], constant_features(network, 1, 1, device)
    for _ in range(steps):
        logits, state = network(token, state, features)
    logits.sum().item()  # wait for the device
    return Run(steps=steps, tokens=steps)


def run_single(network: MelodyLSTM, tokenizer: Any, bars: int, seed: int = 0) -> Run:
    """Ours, one tune of `bars` bars of 4/4, as `generate --num 1 --bars N --meter 4/4`."""
    prefix = tokenizer.encode_prefix((4, 4), None)[:1 + tokenizer.meter_token]
    settings = SampleSettings(temperature=TEMPERATURE, bars=bars, max_tokens=bars * 40)
    seq = sample_ids(network, tokenizer, prefix, 1, settings, seed=seed,
                     steps_per_bar=4 * tokenizer.steps_per_quarter)[0]
    drawn = len(seq) - len(prefix)
    return Run(steps=drawn - 1, tokens=drawn, seqs=[seq])  # no forward after the last draw


@torch.inference_mode()
def run_naive(network: MelodyLSTM, prefix: list[int], num: int, steps: int,
              seed: int = 0) -> Run:
    """The naive loop: re-feed the whole sequence so far at every step, no state carried."""
    device = next(network.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    seqs = torch.tensor([prefix] * num, dtype=torch.long, device=device)  # (B, T0)
    for _ in range(steps):
        features = constant_features(network, num, seqs.size(1), device)
        logits, _ = network(seqs, None, features)  # (B, T, V): the whole prefix, again
        probs = torch.softmax(logits[:, -1, :].float() / TEMPERATURE, dim=-1)  # (B, V)
        chosen = torch.multinomial(probs, 1, generator=generator)  # (B, 1)
        seqs = torch.cat([seqs, chosen], dim=1)
    return Run(steps=steps, tokens=num * steps)


@dataclass
class Timing:
    """Best wall and CPU seconds of one side over its rounds, and a run of it."""

    wall_s: float
    cpu_s: float
    run: Run


def alternate(sides: dict[str, Callable[[], Run]], rounds: int) -> dict[str, Timing]:
    """Best wall and CPU seconds of each side over `rounds`, the order flipped every round.
    CPU seconds (this process only) leave out the time spent waiting for a busy core."""
    best: dict[str, Timing] = {}
    names = list(sides)
    for round_ in range(rounds):
        for name in names[::-1] if round_ % 2 else names:
            wall, cpu = time.perf_counter(), time.process_time()
            run = sides[name]()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            old = best.get(name)
            best[name] = Timing(min(wall, old.wall_s) if old else wall,
                                min(cpu, old.cpu_s) if old else cpu, run)
            print(f"  round {round_ + 1}: {name:<6} {wall:7.2f} s wall {cpu:7.2f} s CPU",
                  flush=True)
    return best


# (label, file suffix or '~' for built-ins, function name) -> cumulative seconds in the profile
PROFILE_PARTS = [
    ("network forward (MelodyLSTM.forward)", "melodyrnn/models/network.py", "forward"),
    ("draw: temperature, softmax, cumsum, search", "melodyrnn/generate/sample.py", "draw"),
    ("masks: grammar, constraints, lengths", "melodyrnn/generate/rules.py", "for_step"),
    ("grammar advance (BatchGrammar.advance)", "melodyrnn/generate/grammar.py", "advance"),
    ("lookback features (BatchLookback.push)", "melodyrnn/generate/lookback.py", "push"),
    ("rows leaving the batch (select_rows)", "melodyrnn/generate/beam.py", "select_rows"),
    ("apply mask (masked_fill)", "~", "<method 'masked_fill' of 'torch._C.TensorBase' objects>"),
]


def profile_ours(network: MelodyLSTM, tokenizer: Any, prefix: list[int], num: int,
                 tokens: int, free: bool) -> None:
    """cProfile one call of ours; print where the time goes, by part."""
    profiler = cProfile.Profile()
    profiler.enable()
    run_ours(network, tokenizer, prefix, num, tokens, free)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = max(ct for (_, _, name), (_, _, _, ct, _) in stats.stats.items()  # type: ignore[attr-defined]
                if name == "sample_ids")
    print(f"\nprofile of ours, {num} x {tokens} tokens (cProfile adds overhead to Python "
          f"calls, so per-row parts read high): {total:.2f} s in sample_ids")
    accounted = 0.0
    for label, suffix, func in PROFILE_PARTS:
        seconds = sum(ct for (file, _, name), (_, _, _, ct, _) in stats.stats.items()  # type: ignore[attr-defined]
                      if name == func and file.endswith(suffix))
        accounted += seconds
        print(f"  {label:<46} {seconds:6.2f} s  {seconds / total:5.1%}")
    rest = total - accounted
    print(f"  {'the rest (loop bookkeeping in sample_ids)':<46} {rest:6.2f} s  {rest / total:5.1%}")


def naive_estimate(seconds: float, num: int, steps: int, prefix_len: int, full_num: int,
                   full_steps: int) -> float:
    """Naive seconds scaled to the full size, assuming cost in proportion to tokens re-fed."""
    def refed(n: int) -> int:  # prefix_len + (prefix_len + 1) + ... over n steps
        return n * prefix_len + n * (n - 1) // 2
    return seconds * (full_num / num) * refed(full_steps) / refed(steps)


def report(args: argparse.Namespace, full: dict[str, Timing], small: dict[str, Timing],
           prefix_len: int) -> float:
    """Print the table and the ratios; return ours / floor in wall time."""
    print(f"\n{'side':<22}{'size':>12}{'loop steps':>11}{'tokens kept':>12}{'wall s':>8}"
          f"{'CPU s':>8}{'tokens/s':>10}")
    rows = [("ours (sample_ids)", args.num, args.tokens, full["ours"]),
            ("floor (bare loop)", args.num, args.tokens, full["floor"]),
            ("ours (sample_ids)", args.naive_num, args.naive_tokens, small["ours"]),
            ("naive (re-feed all)", args.naive_num, args.naive_tokens, small["naive"])]
    for name, num, tokens, t in rows:
        print(f"{name:<22}{f'{num} x {tokens}':>12}{t.run.steps:>11}{t.run.tokens:>12,}"
              f"{t.wall_s:>8.2f}{t.cpu_s:>8.2f}{t.run.tokens / t.wall_s:>10,.0f}")
    ratio = full["ours"].wall_s / full["floor"].wall_s
    print(f"\nratio ours / floor, same loop steps at {args.num} x {args.tokens}: {ratio:.2f}x "
          f"wall, {full['ours'].cpu_s / full['floor'].cpu_s:.2f}x CPU  (goal <= 1.05x)")
    naive = small["naive"].wall_s / small["ours"].wall_s
    print(f"ratio naive / ours at {args.naive_num} x {args.naive_tokens}: {naive:.1f}x wall, "
          f"{small['naive'].cpu_s / small['ours'].cpu_s:.1f}x CPU  (grows with length: naive "
          "re-feeds the prefix every step)")
    estimate = naive_estimate(small["naive"].wall_s, args.naive_num, args.naive_tokens,
                              prefix_len, args.num, args.tokens)
    print(f"naive at {args.num} x {args.tokens}, estimated from that (cost in proportion to "
          f"tokens re-fed; not measured): {estimate:,.0f} s, "
          f"{estimate / full['ours'].wall_s:.0f}x ours")
    return ratio


def report_single(args: argparse.Namespace, single: dict[str, Timing]) -> None:
    """The second goal: one tune over the network forwards it needed alone."""
    ours, alone = single["tune"], single["forwards"]
    print(f"\none {args.single_bars}-bar tune: {ours.run.tokens} tokens in {ours.wall_s:.3f} s "
          f"wall; its {alone.run.steps} network forwards alone {alone.wall_s:.3f} s; ratio "
          f"{ours.wall_s / alone.wall_s:.2f}x wall, {ours.cpu_s / alone.cpu_s:.2f}x CPU "
          "(goal <= 2x)")


def report_flops(args: argparse.Namespace, network: MelodyLSTM, ours: Timing) -> None:
    """Achieved model GFLOP/s of ours at full size, and MFU where a peak is known."""
    per_token = flops_per_token(network.config)
    achieved = ours.run.tokens / ours.wall_s * per_token  # FLOP/s
    peak = args.peak_tflops
    if peak is None and args.device == "cuda":
        peak = peak_tflops(torch.cuda.get_device_name(), args.precision)
    line = (f"model FLOPs: {per_token / 1e6:.2f} MFLOP a token (forward), "
            f"{achieved / 1e9:.1f} GFLOP/s achieved by ours at {args.precision}")
    if peak is None:
        why = "pass --peak-tflops" if args.device == "cuda" else "a CPU has no data-sheet peak here"
        print(f"{line}; MFU not shown ({why})")
    else:
        print(f"{line}; MFU {mfu(ours.run.tokens / ours.wall_s, network.config, peak):.2%} of "
              f"{peak:g} TFLOP/s")


def parse_args() -> argparse.Namespace:
    """The options, refused with a sentence where they cannot run here."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="bundle or checkpoint (default: the bundled folk model, "
                        "else a random network of its shape)")
    parser.add_argument("--num", type=int, default=1000, help="melodies per batch")
    parser.add_argument("--tokens", type=int, default=256, help="tokens per melody (the cap)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; best counts")
    parser.add_argument("--length", choices=["full", "free"], default="full",
                        help="full: EOS only at the cap; free: as generate with no length")
    for name, default in (("naive-num", 100), ("naive-tokens", 128), ("naive-rounds", 2),
                          ("single-rounds", 5)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--single-bars", type=int, default=32,
                        help="bars of the single tune timed against its forwards")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--precision", choices=["32-true", "bf16-mixed"], default="32-true",
                        help="bf16-mixed: the network under torch.autocast in bfloat16")
    parser.add_argument("--peak-tflops", type=float,
                        help="the chip's peak TFLOP/s for MFU (default on CUDA: its data sheet)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (0: torch's default; see the module docstring)")
    parser.add_argument("--profile", action="store_true",
                        help="profile ours even if it is within 1.05x of the floor")
    parser.add_argument("--profile-tokens", type=int, default=64,
                        help="tokens per melody in the profiled run")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda needs a CUDA GPU, and torch sees none here; run on the CPU "
                     "(the default) or on a machine with one")
    if args.peak_tflops is not None and not args.peak_tflops > 0:
        parser.error(f"--peak-tflops has to be above 0, got {args.peak_tflops}")
    return args


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    network, tokenizer, described = load_network(args.model)
    network = network.to(device)
    prefix = tokenizer.encode_prefix((4, 4), None)  # what generate starts from by default
    free = args.length == "free"
    opts = network.options()
    print(f"model: {described}\n  {opts['cell']} {opts['num_layers']}x{opts['hidden_size']}, "
          f"embedding {opts['embedding_dim']}, vocab {opts['vocab_size']}, lookback "
          f"{bool(opts.get('lookback'))}; {args.device}, {args.precision}, "
          f"{torch.get_num_threads()} thread(s); temperature {TEMPERATURE}, no top-k/top-p; "
          f"prefix {len(prefix)} tokens; length mode {args.length}")
    autocast = torch.autocast(args.device, dtype=torch.bfloat16) \
        if args.precision == "bf16-mixed" else contextlib.nullcontext()
    with autocast:
        try:
            run_floor(network, prefix, args.num, 2, True)
        except RuntimeError as exc:  # oneDNN without bfloat16 kernels on this CPU
            raise SystemExit(f"--precision {args.precision} does not run on this {args.device} "
                             f"({str(exc).splitlines()[0][:90]}); use --precision 32-true") \
                from None
        measure(args, network, tokenizer, prefix, free)


def measure(args: argparse.Namespace, network: MelodyLSTM, tokenizer: Any,
            prefix: list[int], free: bool) -> None:
    """Warm up, time every side, and print the report."""
    # warm-up: first calls pay for allocator growth and the tokenizer's mask cache
    run_ours(network, tokenizer, prefix, 64, 16, free)
    run_floor(network, prefix, 64, 16, True)
    run_naive(network, prefix, 8, 8)
    run_single(network, tokenizer, 1)

    last: dict[str, Run] = {}

    def ours() -> Run:
        last["ours"] = run_ours(network, tokenizer, prefix, args.num, args.tokens, free)
        return last["ours"]

    def floor() -> Run:  # ours runs first in round 1 and is deterministic, so `last` is set
        return run_floor(network, prefix, args.num, last["ours"].steps, last["ours"].capped)

    print(f"\n{args.num} x {args.tokens}:", flush=True)
    full = alternate({"ours": ours, "floor": floor}, args.rounds)

    def tune() -> Run:
        last["tune"] = run_single(network, tokenizer, args.single_bars)
        return last["tune"]

    def forwards() -> Run:  # as many one-token forwards as the tune took, one row
        return run_forwards(network, tokenizer.encode_prefix((4, 4), None)[:2],
                            last["tune"].steps)

    print(f"\none {args.single_bars}-bar tune against its forwards alone:", flush=True)
    single = alternate({"tune": tune, "forwards": forwards}, args.single_rounds)
    print(f"\n{args.naive_num} x {args.naive_tokens} (naive is O(T^2)):", flush=True)

    def ours_small() -> Run:
        last["small"] = run_ours(network, tokenizer, prefix, args.naive_num, args.naive_tokens,
                                 free)
        return last["small"]

    def naive() -> Run:  # as many steps as ours ran at this size (it may stop a few early)
        return run_naive(network, prefix, args.naive_num, last["small"].steps)

    small = alternate({"ours": ours_small, "naive": naive}, args.naive_rounds)
    ratio = report(args, full, small, len(prefix))
    report_single(args, single)
    report_flops(args, network, full["ours"])

    seqs = last["ours"].seqs or []
    start = time.perf_counter()
    for ids in seqs:
        tokenizer.decode(ids)
    print(f"decode to Melody (what generate adds after sampling), once: "
          f"{time.perf_counter() - start:.2f} s for {len(seqs)} melodies")
    if ratio > 1.05 or args.profile:
        profile_ours(network, tokenizer, prefix, args.num, min(args.tokens, args.profile_tokens),
                     free)


if __name__ == "__main__":
    main()
