"""The Python API: load a model, generate melodies from it, score melodies with it.

    import melodyrnn as mr
    model = mr.load_model()                      # the bundled folk model
    melodies = model.generate(num=4, temperature=0.9, seed=0)
    melodies[0].write("tune.mid")
    model.score(melodies[0]).bits_per_note
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from melodyrnn.errors import ConfigError, ModelError
from melodyrnn.music import Key, Melody, parse_time_signature

DEFAULT_MODEL = Path(__file__).resolve().parent / "assets" / "models" / "folk"


@dataclass(frozen=True)
class ScoreResult:
    """How likely a melody is under a model: total log-likelihood in nats, and per note."""

    log_likelihood: float  # natural log of p(all tokens), nats
    notes: int
    tokens: int

    @property
    def bits_per_note(self) -> float:
        """-log2 p(melody) / number of notes."""
        return -self.log_likelihood / math.log(2) / max(1, self.notes)

    @property
    def perplexity(self) -> float:
        """exp of the mean negative log-likelihood per token."""
        return math.exp(-self.log_likelihood / max(1, self.tokens))


class MelodyModel:
    """A trained network with its tokenizer and provenance, ready to sample and score."""

    def __init__(self, network: Any, tokenizer: Any, meta: dict[str, Any], path: Path) -> None:
        self.network = network.eval()
        self.tokenizer = tokenizer
        self.meta = meta
        self.path = path

    @property
    def corpus(self) -> list[str]:
        """Names of the corpora the model was trained on, as `prepare` takes them."""
        dataset = self.meta.get("dataset") or {}
        name = (dataset.get("manifest") or {}).get("corpus") or ""
        return [n for n in str(name).split("+") if n]

    def __repr__(self) -> str:
        net = self.network.options()
        return (f"MelodyModel({self.path.name}: {net['cell']} {net['num_layers']}x"
                f"{net['hidden_size']}, {self.tokenizer.name} tokens, corpus "
                f"{'+'.join(self.corpus) or '?'})")

    def prefix(self, primer: Melody | str | Path | None = None, meter: str | None = None,
               key: str | Key | None = None) -> tuple[list[int], Melody | None]:
        """The token ids every sample starts with: BOS, conditioning tokens, then the primer."""
        tok = self.tokenizer
        time_signature = parse_time_signature(meter) if meter else (4, 4)
        key = Key.parse(key) if isinstance(key, str) else key
        melody = _primer_melody(primer, tok.steps_per_quarter)
        if melody is None:
            return tok.encode_prefix(time_signature, key), None
        melody = melody.replace(time_signature=time_signature, key=key)
        low, high = tok.pitch_range
        if any(not low <= p <= high for p in melody.pitches):
            raise ConfigError(f"the primer has pitches outside the model's range "
                              f"{low}-{high}")
        return tok.encode(melody)[:-1], melody  # everything but EOS

    def generate(self, num: int = 1, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, primer: Melody | str | Path | None = None,
                 notes: int | None = None, bars: int | None = None, seed: int | None = 0, *,
                 seconds: float | None = None, beam: int = 1, branch: int = 2,
                 meter: str | None = None, key: str | Key | None = None,
                 scale: str | Key | None = None, pitch_range: tuple[int, int] | str | None = None,
                 qpm: float = 120.0, max_tokens: int | None = None) -> list[Melody]:
        """`num` new melodies. With no length given, each runs until the model ends it (EOS)."""
        from melodyrnn.primer import parse_range
        from melodyrnn.sampling import SampleSettings, sample_ids
        if not isinstance(num, int) or num < 1:
            raise ConfigError(f"num {num!r} must be a whole number of at least 1")
        if isinstance(pitch_range, str):
            pitch_range = parse_range(pitch_range)
        scale_key = Key.parse(scale) if isinstance(scale, str) else scale
        key_obj = Key.parse(key) if isinstance(key, str) else key
        settings = SampleSettings(
            temperature=temperature, top_k=top_k, top_p=top_p, notes=notes, bars=bars,
            seconds=seconds, qpm=qpm, pitch_range=pitch_range, scale=scale_key, beam=beam,
            branch=branch, max_tokens=max_tokens or _default_max_tokens(notes, bars, seconds))
        prefix, _ = self.prefix(primer, meter, key_obj)
        meter_tuple = parse_time_signature(meter) if meter else (4, 4)
        spb = meter_tuple[0] * 4 * self.tokenizer.steps_per_quarter // meter_tuple[1]
        seqs = sample_ids(self.network, self.tokenizer, prefix, num, settings, seed=seed,
                          steps_per_bar=spb)
        out = []
        for i, ids in enumerate(seqs):
            melody = self.tokenizer.decode(ids)
            out.append(melody.replace(
                qpm=qpm, time_signature=meter_tuple if meter else melody.time_signature,
                key=key_obj or melody.key or scale_key, source=f"generated:{seed}:{i}"))
        return out

    def score(self, melody: Melody) -> ScoreResult:
        """Log-likelihood of a melody under the model (nats), and its bits per note."""
        import torch
        ids = self.tokenizer.encode(melody)
        with torch.no_grad():
            x = torch.tensor([ids[:-1]], dtype=torch.long)  # (1, T)
            logits, _ = self.network(x)  # (1, T, V)
            logp = torch.log_softmax(logits.float(), dim=-1)[0]
            total = logp.gather(1, torch.tensor(ids[1:]).view(-1, 1)).sum().item()
        return ScoreResult(log_likelihood=total, notes=len(melody), tokens=len(ids) - 1)


def _default_max_tokens(notes: int | None, bars: int | None, seconds: float | None) -> int:
    if notes:
        return max(64, notes * 4 + 32)
    if bars:
        return max(64, bars * 40)
    if seconds:
        return max(64, int(seconds * 24))
    return 512


def _primer_melody(primer: Melody | str | Path | None, steps_per_quarter: int) -> Melody | None:
    """A primer given as a Melody, a note list such as 'C4 D4 E4:2', or a melody file."""
    if primer is None or isinstance(primer, Melody):
        return primer
    text = str(primer)
    if isinstance(primer, Path) or Path(text).suffix.lower() in (
            ".mid", ".midi", ".kar", ".musicxml", ".mxl", ".xml", ".abc"):
        from melodyrnn.preprocess import read_melodies
        found = read_melodies(text, strategy="skyline", steps_per_quarter=steps_per_quarter)
        if not found:
            raise ConfigError(f"{text}: no melody found to use as a primer")
        return found[0]
    from melodyrnn.primer import parse_primer
    return parse_primer(text, steps_per_quarter)


def load_model(path: str | Path | None = None) -> MelodyModel:
    """A model from a bundle folder or a Lightning checkpoint; the bundled folk model if None."""
    from melodyrnn.bundle import load_bundle
    from melodyrnn.tokenizer import load_tokenizer
    where = Path(path) if path is not None else DEFAULT_MODEL
    if path is None and not (where / "bundle.json").is_file():
        raise ModelError(f"the bundled model is missing from {where}; reinstall melodyrnn or "
                         "pass a model path")
    network, tokenizer_json, meta = load_bundle(where)
    return MelodyModel(network, load_tokenizer(tokenizer_json), meta, where)
