"""The Python API: load a model, generate melodies from it, score melodies with it.

    import melodyrnn as mr
    model = mr.load_model()                      # the bundled folk model
    melodies = model.generate(num=4, temperature=0.9, seed=0)
    melodies[0].write("tune.mid")
    model.score(melodies[0]).bits_per_note
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from melodyrnn.core.key import Key
from melodyrnn.core.melody import Melody
from melodyrnn.core.meter import parse_time_signature, steps_per_bar
from melodyrnn.errors import ConfigError, ModelError, TokenizerError
from melodyrnn.generate.sample import sample_ids
from melodyrnn.generate.settings import SampleSettings
from melodyrnn.io import READ_SUFFIXES
from melodyrnn.io.inputs.text import parse_primer, parse_range
from melodyrnn.models.bundle import load_bundle
from melodyrnn.models.likelihood import Likelihood
from melodyrnn.models.lookback import batch_features, uses_lookback
from melodyrnn.prepare.extract import read_melodies
from melodyrnn.tokenizers import load_tokenizer

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "assets" / "models" / "folk"


# What `MelodyModel.score` returns: log-likelihood in nats, tokens, notes, and the figures.
ScoreResult = Likelihood


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
        extras = ("+lookback" if net.get("lookback") else "") + (
            f"+attention {net['attention']}" if net.get("attention") else "")
        return (f"MelodyModel({self.path.name}: {net['cell']} {net['num_layers']}x"
                f"{net['hidden_size']}{' ' + extras if extras else ''}, "
                f"{self.tokenizer.name} tokens, corpus "
                f"{'+'.join(self.corpus) or '?'})")

    def prefix(self, primer: Melody | str | Path | None = None, meter: str | None = None,
               key: str | Key | None = None, seed: int | None = 0) -> list[int]:
        """The token ids every sample starts with: BOS, conditioning tokens, then the primer.

        When the model was trained with meter and key tokens and one is not given, the model
        chooses it: the sampler draws it per melody, or, when a primer must be written in a
        known meter and key (or a key follows an unknown meter), it is drawn here once.
        """
        tok = self.tokenizer
        key = Key.parse(key) if isinstance(key, str) else key
        melody = _primer_melody(primer, tok.steps_per_quarter)
        ids = [tok.bos_id]
        if tok.meter_token:
            if meter is not None:
                ids += tok.encode_prefix(meter)[1:2]
            elif melody is None and key is None:
                return ids  # the sampler draws the meter, then the key
            else:
                ids.append(self._draw_prefix_token(ids, seed))
        if tok.key_token:
            if key is not None:
                ids.append(tok.encode_prefix((4, 4), key)[-1])
            elif melody is None:
                return ids  # the sampler draws the key
            else:
                ids.append(self._draw_prefix_token(ids, seed))
        if melody is None:
            return ids
        conditioned = tok.decode([*ids, tok.eos_id])
        melody = melody.replace(time_signature=parse_time_signature(meter) if meter
                                else conditioned.time_signature, key=key or conditioned.key)
        low, high = tok.pitch_range
        if any(not low <= p <= high for p in melody.pitches):
            raise ConfigError(f"the primer has pitches outside the model's range {low}-{high}")
        body = tok.encode(melody)[len(tok.encode_prefix()):-1]  # the primer without BOS...EOS
        return ids + body

    def _draw_prefix_token(self, ids: list[int], seed: int | None) -> int:
        """One meter or key token drawn from the model after `ids` (never 'other' or 'none')."""
        import torch
        tok = self.tokenizer
        allowed = torch.tensor(tok.allowed_next(tok.grammar_state(ids)), dtype=torch.bool)
        allowed[tok.unknown_prefix_ids] = False  # the model picks a real meter and key
        with torch.no_grad():
            logits, _ = self.network(torch.tensor([ids]), None, self._lookback([ids]))
        probs = torch.softmax(logits[0, -1].float().masked_fill(~allowed, -math.inf), dim=-1)
        generator = torch.Generator().manual_seed(0 if seed is None else seed)
        return int(torch.multinomial(probs, 1, generator=generator))

    def _lookback(self, sequences: list[list[int]]) -> Any:
        """(B, T, 5) lookback features of same-length sequences when the network wants them."""
        if not uses_lookback(self.network):
            return None
        return batch_features(self.tokenizer, sequences, len(sequences[0]))

    def generate(self, num: int = 1, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, primer: Melody | str | Path | None = None,
                 notes: int | None = None, bars: int | None = None, seed: int | None = 0, *,
                 seconds: float | None = None, beam: int = 1, branch: int = 2,
                 meter: str | None = None, key: str | Key | None = None,
                 scale: str | Key | None = None, pitch_range: tuple[int, int] | str | None = None,
                 qpm: float = 120.0, max_tokens: int | None = None) -> list[Melody]:
        """`num` new melodies. With no length given, each runs until the model ends it (EOS)."""
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
        key_obj = key_obj or scale_key  # a scale, when no key is given, is the key to play in
        prefix = self.prefix(primer, meter, key_obj, seed)
        meter_tuple = parse_time_signature(meter) if meter else (4, 4)
        # with meter tokens the grammar state knows the bar length once the meter is drawn
        spb = 0 if self.tokenizer.meter_token and not meter else \
            steps_per_bar(meter_tuple, self.tokenizer.steps_per_quarter)
        seqs = sample_ids(self.network, self.tokenizer, prefix, num, settings, seed=seed,
                          steps_per_bar=spb)
        out = []
        for i, ids in enumerate(seqs):
            melody = self.tokenizer.decode(ids)
            out.append(melody.replace(
                qpm=qpm, time_signature=meter_tuple if meter else melody.time_signature,
                key=key_obj or melody.key, source=f"generated:{seed}:{i}"))
        return out

    def score(self, melody: Melody) -> ScoreResult:
        """Log-likelihood of a melody under the model (nats), and its bits per note."""
        import torch
        ids = self.tokenizer.encode(melody)
        with torch.no_grad():
            x = torch.tensor([ids[:-1]], dtype=torch.long)  # (1, T)
            logits, _ = self.network(x, None, self._lookback([ids[:-1]]))  # (1, T, V)
            logp = torch.log_softmax(logits.float(), dim=-1)[0]
            total = logp.gather(1, torch.tensor(ids[1:]).view(-1, 1)).sum().item()
        return ScoreResult(log_likelihood=total, tokens=len(ids) - 1, notes=len(melody))


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
    if isinstance(primer, Path) or Path(text).suffix.lower() in READ_SUFFIXES:
        found = read_melodies(text, strategy="skyline", steps_per_quarter=steps_per_quarter)
        if not found:
            raise ConfigError(f"{text}: no melody found to use as a primer")
        return found[0]
    return parse_primer(text, steps_per_quarter)


def load_model(path: str | Path | None = None) -> MelodyModel:
    """A model from a bundle folder or a Lightning checkpoint; the bundled folk model if None."""
    where = Path(path) if path is not None else DEFAULT_MODEL
    if path is None and not (where / "bundle.json").is_file():
        raise ModelError(f"the bundled model is missing from {where}; reinstall melodyrnn or "
                         "pass a model path")
    network, tokenizer_json, meta = load_bundle(where)
    try:
        tokenizer = load_tokenizer(tokenizer_json)
    except TokenizerError as exc:
        reason = str(exc).removeprefix("tokenizer: ")
        raise ModelError(f"{where}: the model's tokenizer cannot be rebuilt ({reason})") from None
    return MelodyModel(network, tokenizer, meta, where)
