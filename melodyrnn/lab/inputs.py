"""Experiment `inputs`: one-hot against embedding input, and a character-level model of ABC.

Part A trains the lab's BASE LSTM twice: with its 32-wide embedding, and with one-hot input,
where the first layer's input weights (4H x V) play the embedding's part. Both are measured by
valid bits per note, parameters and seconds per epoch. One difference besides the input: the
network drops out 30% of the embedding's outputs, and a one-hot vector has none to drop.

Part B (`lab/chars.py`) writes the same tunes as ABC text and trains the same LSTM on their
characters, with windows that hold about as much music as BASE's 128 tokens, for as many
epochs. Its bits per note count every character of the text over the same valid notes, as
the note-event model's count every token, so the two are on one scale. All three are measured
in `bits_per_note`'s windows of 512 symbols, whose state starts afresh at each window: 512
characters hold less music than 512 tokens, so the characters pay a few more fresh starts
(7 against 5 on essen-kinder's valid split), which the comparison charges against them.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from melodyrnn.lab.chars import CharCorpus, char_corpus
from melodyrnn.lab.data import LabData
from melodyrnn.lab.results import LabResult, experiment_folder, figure, finish, save_figure
from melodyrnn.lab.train import BASE, TrainLog, TrainSettings, bits_per_note, trained
from melodyrnn.models.network import MelodyLSTM

NAME = "inputs"
TITLE = "One-hot or embedding input, and a character-level model of ABC"
SUMMARY = "one-hot vs embedding input, and an LSTM over the ABC text of the same tunes"
MODELS = ("embedding", "onehot", "characters")
LABELS = {"embedding": "embedding (32)", "onehot": "one-hot", "characters": "ABC characters"}
COLOURS = {"embedding": "tab:blue", "onehot": "tab:orange", "characters": "tab:green"}
SAME = 0.05  # bits per note within which two models count as equal (seeds differ by about this)


@dataclass(frozen=True)
class Options:
    """The options of `melodyrnn lab inputs`."""

    seed: int = field(default=0, metadata={"help": "seed of every network and batch order"})
    batches: int = field(default=BASE.batches,
                         metadata={"help": "training batches of each note model"})
    hidden_size: int = field(default=128, metadata={"help": "units of each recurrent layer"})
    char_seq_len: int = field(default=0, metadata={
        "help": "window of the character model in characters (0: BASE's 128 tokens times the "
                "characters per token, so a window holds as much music)"})


def run(data: LabData, out: Path, options: Options,
        say: Callable[[str], None] = print) -> LabResult:
    """Train the three models, compare them; writes OUT/inputs/inputs.json and its PNGs."""
    began = time.perf_counter()
    folder = experiment_folder(out, NAME)
    corpus = char_corpus(data)
    note_settings = dataclasses.replace(BASE, batches=options.batches,
                                        hidden_size=options.hidden_size, seed=options.seed)
    char_settings = character_settings(data, corpus, note_settings, options.char_seq_len)
    runs = {"embedding": (data, note_settings),
            "onehot": (data, dataclasses.replace(note_settings, input="onehot")),
            "characters": (corpus.data, char_settings)}
    models = {}
    for name, (model_data, settings) in runs.items():
        net, log = trained(model_data, settings)
        models[name] = measure(net, log, model_data, corpus, settings)
        say(f"{NAME}: trained {LABELS[name]} ({settings.batches} batches, {log.seconds:.1f} s, "
            f"valid {models[name]['valid_bpn']:.2f} bits/note)")
    numbers = compare(models, corpus, data, note_settings)
    plots = [plot_bars(models, folder), plot_curves(models, folder)]
    (folder / "valid-tune.abc").write_text(corpus.example, encoding="utf-8")
    used = {**dataclasses.asdict(options),
            **{f"train_{name}": s.to_dict() for name, (_, s) in runs.items()}}
    result = LabResult(NAME, TITLE, numbers, plots, reading(numbers), used)
    return finish(folder, result, data.describe(), options.seed, began)


def character_settings(data: LabData, corpus: CharCorpus, note: TrainSettings,
                       seq_len: int) -> TrainSettings:
    """The note settings for the character model: windows of about as much music (unless
    `seq_len` is given) and batches scaled so that it trains for as many epochs."""
    note_tokens = len(data.splits["train"].tokens)
    char_tokens = len(corpus.data.splits["train"].tokens)
    if not seq_len:
        seq_len = max(2, round(note.seq_len * char_tokens / note_tokens))
    note_windows = -(-(note_tokens - 1) // note.seq_len)
    char_windows = -(-(char_tokens - 1) // seq_len)
    batches = max(1, round(note.batches * char_windows / note_windows))
    return dataclasses.replace(note, seq_len=seq_len, batches=batches)


def measure(net: MelodyLSTM, log: TrainLog, model_data: LabData, corpus: CharCorpus,
            settings: TrainSettings) -> dict[str, Any]:
    """One trained model's figures: bits, symbols per note, parameters, speed, its curve."""
    # the note models are measured on the valid melodies that were also written as ABC
    measured = corpus.data if model_data is corpus.data else corpus.notes
    bpn = bits_per_note(net, measured, "valid")
    valid = measured.splits["valid"]
    notes = measured.notes("valid")
    targets = len(valid.tokens) - len(valid)  # every symbol after a BOS is predicted
    train_targets = len(model_data.splits["train"].tokens) - len(model_data.splits["train"])
    encoder = net.encoder.weight.numel() if net.encoder is not None else 0
    epochs = max(log.epochs, 1e-9)
    return {"valid_bpn": bpn, "bits_per_symbol": bpn * notes / targets,
            # with each tune's EOS, so that bits_per_symbol x symbols_per_note = valid_bpn
            "symbols_per_note": targets / notes,
            "vocab_size": model_data.vocab_size,
            "parameters": sum(p.numel() for p in net.parameters()),
            "input_weights": encoder + net.rnn.weight_ih_l0.numel(),
            "seconds": log.seconds, "epochs": log.epochs,
            "seconds_per_epoch": log.seconds / epochs,
            "symbols_per_second": train_targets * log.epochs / max(log.seconds, 1e-9),
            "seq_len": settings.seq_len, "batches": settings.batches,
            "valid_bpn_curve": list(log.valid_bpn), "losses": list(log.losses),
            "best_epoch": log.best_epoch, "diverged_at": log.diverged_at,
            "final_loss": log.losses[-1] if log.losses else math.nan}


def compare(models: dict[str, dict[str, Any]], corpus: CharCorpus, data: LabData,
            settings: TrainSettings) -> dict[str, Any]:
    """Every number of the experiment: the models' figures and their ratios and gaps."""
    emb, hot, chars = (models[name] for name in MODELS)
    return {"models": models,
            "onehot_minus_embedding_bpn": hot["valid_bpn"] - emb["valid_bpn"],
            "characters_minus_notes_bpn": chars["valid_bpn"] - emb["valid_bpn"],
            "input_weights_ratio": hot["input_weights"] / emb["input_weights"],
            "parameters_ratio": hot["parameters"] / emb["parameters"],
            "epoch_time_ratio": hot["seconds_per_epoch"] / max(emb["seconds_per_epoch"], 1e-9),
            "valid_notes": corpus.notes.notes("valid"),
            "valid_melodies": len(corpus.notes.splits["valid"]),
            "abc_failed": corpus.failed, "unknown_characters": corpus.unknown,
            "characters": corpus.characters,
            "character_vocab": corpus.data.vocab[4:],
            "note_vocab_size": data.vocab_size, "embedding_dim": settings.embedding_dim,
            "dropout": settings.dropout}


def plot_bars(models: dict[str, dict[str, Any]], folder: Path) -> str:
    """Valid bits per note, parameters and seconds per epoch of the three models, as bars."""
    fig = figure(11, 3.8)
    panels = (("valid_bpn", "valid bits per note", "{:.2f}"),
              ("parameters", "parameters (thousands)", "{:.0f}k"),
              ("seconds_per_epoch", "seconds per epoch", "{:.2f}"))
    labels = [LABELS[name].replace(" (", "\n(") for name in MODELS]
    for i, (key, label, fmt) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1)
        scale = 1000 if key == "parameters" else 1
        values = [models[name][key] / scale for name in MODELS]
        bars = ax.bar(labels, values, color=[COLOURS[name] for name in MODELS])
        ax.bar_label(bars, [fmt.format(v) for v in values], padding=2)
        ax.set_ylabel(label)
        ax.set_ylim(0, max(values) * 1.18)
        ax.set_title(label.split(" (")[0])
    fig.suptitle("Input encodings: one-hot or embedding of note tokens, or ABC characters")
    return save_figure(fig, folder / "inputs.png")


def plot_curves(models: dict[str, dict[str, Any]], folder: Path) -> str:
    """Valid bits per note after each epoch: the whole run, and its second half close up."""
    fig = figure(11, 4.2)
    longest = max(len(models[name]["valid_bpn_curve"]) for name in MODELS)
    for i, first in enumerate((1, max(1, longest // 2))):
        ax = fig.add_subplot(1, 2, i + 1)
        for name in MODELS:
            curve = models[name]["valid_bpn_curve"]
            epochs = range(1, len(curve) + 1)
            ax.plot(epochs[first - 1:], curve[first - 1:], color=COLOURS[name],
                    label=f"{LABELS[name]}: best {min(curve, default=math.nan):.2f}")
        ax.set_xlabel("epoch (passes over the training tunes)")
        ax.set_ylabel("valid bits per note")
        ax.set_title("every epoch" if i == 0 else f"from epoch {first} on, close up")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Learning curves: valid bits per note after each epoch")
    return save_figure(fig, folder / "inputs-curves.png")


def reading(numbers: dict[str, Any]) -> list[str]:
    """What the numbers show, in sentences chosen by them."""
    return [*_reading_onehot(numbers), *_reading_characters(numbers)]


def _reading_onehot(numbers: dict[str, Any]) -> list[str]:
    """The sentences of part A: one-hot against embedding input."""
    emb, hot = numbers["models"]["embedding"], numbers["models"]["onehot"]
    gap, speed = numbers["onehot_minus_embedding_bpn"], numbers["epoch_time_ratio"]
    first = (f"One-hot input reaches {hot['valid_bpn']:.2f} bits per note against "
             f"{emb['valid_bpn']:.2f} for a {numbers['embedding_dim']}-wide embedding, with "
             f"{numbers['input_weights_ratio']:.1f} times the input weights "
             f"({hot['input_weights']:,} against {emb['input_weights']:,}; "
             f"{numbers['parameters_ratio']:.2f} times the parameters in all) and "
             f"{speed:.2f} times the seconds per epoch.")
    if gap > SAME:
        second = ("As the lecture says, the embedding does better with fewer weights: it is a "
                  "low-rank code of the tokens that similar tokens share")
    elif gap < -SAME:
        second = (f"Here one-hot input is the better, which the lecture's case for embeddings "
                  f"does not lead one to expect: with only {numbers['note_vocab_size']} note "
                  f"tokens the one-hot weights are themselves an embedding, "
                  f"{hot['input_weights'] // hot['vocab_size']} wide (4H) and "
                  f"unconstrained, where the {numbers['embedding_dim']}-wide code is a "
                  f"bottleneck and has {numbers['dropout']:.0%} of it dropped in training")
    else:
        second = (f"The two are within {SAME} bits per note of each other, so on a vocabulary "
                  f"of {numbers['note_vocab_size']} tokens the embedding buys no accuracy, only "
                  f"size: its advantage in the lecture comes with large vocabularies")
    if speed > 1.1:
        second += "; and the one-hot matrix product is slower than the embedding's lookup."
    else:
        second += ("; and on this CPU the one-hot matrix product, at this vocabulary, costs no "
                   "more time than the embedding's lookup and its dropout.")
    return [first, second]


def _reading_characters(numbers: dict[str, Any]) -> list[str]:
    """The sentences of part B: characters of ABC against note events."""
    models = numbers["models"]
    notes, chars = models["embedding"], models["characters"]
    gap = numbers["characters_minus_notes_bpn"]
    side = ("worse" if gap > 0 else "better") if abs(gap) > SAME else "different"
    # still improving: the best weights came from the last tenth of the epochs
    last = all((models[name]["best_epoch"] or 0) >= 0.9 * len(models[name]["valid_bpn_curve"])
               for name in MODELS)
    return [
        f"The character model is {abs(gap):.2f} bits per note {side} than the note-event model "
        f"({chars['valid_bpn']:.2f} against {notes['valid_bpn']:.2f}): it spells each note as "
        f"{chars['symbols_per_note']:.2f} characters at {chars['bits_per_symbol']:.2f} bits "
        f"each, where the note events take {notes['symbols_per_note']:.2f} tokens at "
        f"{notes['bits_per_symbol']:.2f} bits each.",
        f"Both count every symbol of a tune's encoding (characters or tokens, bar lines, line "
        f"breaks and header fields included) over the same {numbers['valid_notes']:,} valid "
        f"notes, so they are on one scale; the character model read windows of "
        f"{chars['seq_len']} characters for {chars['epochs']:.1f} epochs, as the note model "
        f"read {notes['seq_len']} tokens for {notes['epochs']:.1f}"
        + (", and all three were still improving at the end (their best epochs are in the "
           "last tenth)." if last else "."),
        _reading_spelling(numbers), _reading_failures(numbers)]


def _reading_spelling(numbers: dict[str, Any]) -> str:
    """What spelling notes as characters costs, against the better of the two note models."""
    models = numbers["models"]
    chars = models["characters"]
    best = min(("embedding", "onehot"), key=lambda name: models[name]["valid_bpn"])
    gap = chars["valid_bpn"] - models[best]["valid_bpn"]
    against = f"the better note model, {LABELS[best]} at {models[best]['valid_bpn']:.2f}"
    spelled = f"Spelling each note as {chars['symbols_per_note']:.1f} characters"
    if gap > SAME:
        return (f"{spelled} costs {gap:.2f} bits per note against {against}: the model must "
                f"learn to spell pitches, lengths and bar lines before it can learn the tunes, "
                f"which is why folk-rnn's later versions read ABC as tokens (a pitch, a length, "
                f"a bar line) rather than characters.")
    tail = (" so folk-rnn's choice of reading ABC text loses nothing on these tunes, against "
            "the expectation that a model of characters pays for having to learn to spell")
    if gap < -SAME:
        return (f"{spelled} even gains {-gap:.2f} bits per note against {against}: in "
                f"{numbers['characters']['train']:,} characters of training text the model "
                f"sees each of its {len(numbers['character_vocab'])} symbols far more often "
                f"than a note model sees each of its {numbers['note_vocab_size']} tokens,"
                f"{tail}.")
    return (f"{spelled} costs nothing against {against} (within {SAME} bits per note),{tail}"
            + (f"; what the characters gain on the embedding model is the "
               f"{numbers['embedding_dim']}-wide embedding's loss, not the characters' doing."
               if best == "onehot"
               and numbers["characters_minus_notes_bpn"] < -SAME else "."))


def _reading_failures(numbers: dict[str, Any]) -> str:
    """The sentence on melodies that could not be written as ABC and unseen characters."""
    failed, unknown = numbers["abc_failed"]["valid"], numbers["unknown_characters"]["valid"]
    if not failed and not unknown:
        return (f"All {numbers['valid_melodies']} valid melodies were written as ABC, and no "
                f"character of their text was unseen in training.")
    return (f"{failed} valid melodies could not be written as ABC and are left out of both "
            f"models' figures; {unknown} characters of the valid text were unseen in training "
            f"and read as UNK.")
