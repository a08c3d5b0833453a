"""The Python API: load a model, generate melodies from it, score melodies with it.

    import melodyrnn as mr
    model = mr.load_model()                      # the bundled folk model
    melodies = model.generate(num=4, temperature=0.9, seed=0)
    melodies[0].write("tune.mid")
    model.score(melodies[0]).bits_per_note
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from melodyrnn.core.key import Key
from melodyrnn.core.limits import LIMITS, limit, over_limit
from melodyrnn.core.melody import Melody
from melodyrnn.core.meter import parse_time_signature, steps_per_bar
from melodyrnn.errors import ConfigError, ModelError, TokenizerError
from melodyrnn.generate.sample import BATCH_ROWS, sample_ids
from melodyrnn.generate.settings import SampleSettings
from melodyrnn.io import READ_SUFFIXES
from melodyrnn.io.inputs.text import parse_primer, parse_range
from melodyrnn.io.outputs.notebook import Melodies
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
                 qpm: float = 120.0, max_tokens: int | None = None,
                 batch_size: int = BATCH_ROWS) -> Melodies:
        """`num` new melodies. With no length given, each runs until the model ends it (EOS).
        They come as `Melodies`, a list that Jupyter shows as a gallery.

        They are sampled `batch_size` rows at a time (`generate_batches`); the same seed,
        settings and `num` give the same melodies.
        """
        options: dict[str, Any] = dict(
            temperature=temperature, top_k=top_k, top_p=top_p, primer=primer, notes=notes,
            bars=bars, seed=seed, seconds=seconds, beam=beam, branch=branch, meter=meter,
            key=key, scale=scale, pitch_range=pitch_range, qpm=qpm, max_tokens=max_tokens,
            batch_size=batch_size)
        return Melodies(m for batch in self.generate_batches(num, **options) for m in batch)

    def generate_batches(self, num: int = 1, temperature: float = 1.0,
                         top_k: int | None = None, top_p: float | None = None,
                         primer: Melody | str | Path | None = None, notes: int | None = None,
                         bars: int | None = None, seed: int | None = 0, *,
                         seconds: float | None = None, beam: int = 1, branch: int = 2,
                         meter: str | None = None, key: str | Key | None = None,
                         scale: str | Key | None = None,
                         pitch_range: tuple[int, int] | str | None = None, qpm: float = 120.0,
                         max_tokens: int | None = None,
                         batch_size: int = BATCH_ROWS) -> Iterator[list[Melody]]:
        """`num` new melodies as they are sampled, in lists of at most `batch_size` rows
        (`batch_size // beam` melodies with beam search), so memory does not grow with `num`.

        Everything is checked (settings, primer, limits) before the first batch is sampled.
        Batch 0 draws with `seed` itself, batch b with `batch_seed(seed, b)`.
        """
        check_num(num)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size {batch_size!r} must be a whole number of at least 1")
        if isinstance(pitch_range, str):
            pitch_range = parse_range(pitch_range)
        scale_key = Key.parse(scale) if isinstance(scale, str) else scale
        key_obj = Key.parse(key) if isinstance(key, str) else key
        settings = SampleSettings(
            temperature=temperature, top_k=top_k, top_p=top_p, notes=notes, bars=bars,
            seconds=seconds, qpm=qpm, pitch_range=pitch_range, scale=scale_key, beam=beam,
            branch=branch, max_tokens=max_tokens or _default_max_tokens(notes, bars, seconds))
        key_obj = key_obj or scale_key  # a scale, when no key is given, is the key to play in
        meter_tuple = parse_time_signature(meter) if meter else None
        spq = self.tokenizer.steps_per_quarter
        settings.check_length(spq, steps_per_bar(meter_tuple, spq) if meter_tuple else 0)
        prefix = self.prefix(primer, meter, key_obj, seed)
        return self._batches(num, prefix, settings, seed, meter_tuple, key_obj,
                             max(1, batch_size // settings.beam))

    def _batches(self, num: int, prefix: list[int], settings: SampleSettings,
                 seed: int | None, meter: tuple[int, int] | None, key: Key | None,
                 per_batch: int) -> Iterator[list[Melody]]:
        """The sampling loop of `generate_batches`, run lazily batch by batch."""
        # with meter tokens the grammar state knows the bar length once the meter is drawn
        spb = 0 if self.tokenizer.meter_token and not meter else \
            steps_per_bar(meter or (4, 4), self.tokenizer.steps_per_quarter)
        for index, first in enumerate(range(0, num, per_batch)):
            size = min(per_batch, num - first)
            batch_seed_ = seed if index == 0 else batch_seed(seed, index)
            seqs = sample_ids(self.network, self.tokenizer, prefix, size, settings,
                              seed=batch_seed_, steps_per_bar=spb)
            # no name keeps the batch here while the caller writes it and the next is sampled
            yield self._melodies(seqs, first, seed, settings.qpm, meter, key)

    def _melodies(self, seqs: list[list[int]], first: int, seed: int | None, qpm: float,
                  meter: tuple[int, int] | None, key: Key | None) -> list[Melody]:
        """The melodies of sampled sequences, numbered from `first`, with the asked meter
        and key (the drawn ones otherwise) and tempo."""
        out = []
        for i, ids in enumerate(seqs):
            melody = self.tokenizer.decode(ids)
            out.append(melody.replace(
                qpm=qpm, time_signature=meter or melody.time_signature,
                key=key or melody.key, source=f"generated:{seed}:{first + i}"))
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


def check_num(num: object, name: str = "num") -> int:
    """`num` as a count of tunes to generate: a whole number from 1 to the limit `max_num`."""
    if not isinstance(num, int) or isinstance(num, bool) or num < 1:
        raise ConfigError(f"{name} {num!r} must be a whole number of at least 1")
    if num > limit("max_num"):
        spec = LIMITS["max_num"]
        raise ConfigError(f"{name} {num:,} is over the limit of {limit('max_num'):,} "
                          f"({spec.what}); ask for fewer or set {spec.env} to allow more")
    return num


def batch_seed(seed: int | None, index: int) -> int:
    """The seed of batch `index` (> 0) of a run seeded `seed`: fixed, and apart from the
    seeds a user types, so batches of one run never repeat each other or another run."""
    digest = hashlib.sha256(f"melodyrnn-batch:{0 if seed is None else seed}:{index}".encode())
    return int.from_bytes(digest.digest()[:8], "big") >> 1  # torch seeds are below 2**64


def _default_max_tokens(notes: int | None, bars: int | None, seconds: float | None) -> int:
    if notes:
        return max(64, notes * 4 + 32)
    if bars:
        return max(64, bars * 40)
    if seconds and math.isfinite(seconds):  # (an infinite one is refused by the settings)
        return max(64, int(seconds * 24))
    return 512


def _primer_melody(primer: Melody | str | Path | None, steps_per_quarter: int) -> Melody | None:
    """A primer given as a Melody, a note list such as 'C4 D4 E4:2', or a melody file; one
    longer than the limit `max_primer_notes` is refused before the network reads it."""
    if primer is None:
        return None
    if isinstance(primer, Melody):
        return _check_primer_length(primer, "the primer")
    text = str(primer)
    if isinstance(primer, Path) or Path(text).suffix.lower() in READ_SUFFIXES:
        found = read_melodies(text, strategy="skyline", steps_per_quarter=steps_per_quarter)
        if not found:
            raise ConfigError(f"{text}: no melody found to use as a primer")
        return _check_primer_length(found[0], f"the primer {text}")
    # count the items before parsing them: a huge text is refused without building its notes
    items = sum(1 for _ in _PRIMER_ITEM.finditer(text))
    if items > limit("max_primer_notes"):
        raise ConfigError(over_limit("max_primer_notes", items, "the primer") + _PRIMER_FIX)
    return parse_primer(text, steps_per_quarter)


_PRIMER_ITEM = re.compile(r"[^\s,]+")  # the items of a primer text, as parse_primer splits it
_PRIMER_FIX = ", or give the opening few bars only"


def _check_primer_length(melody: Melody, subject: str) -> Melody:
    if len(melody) > limit("max_primer_notes"):
        raise ConfigError(over_limit("max_primer_notes", len(melody), subject) + _PRIMER_FIX)
    return melody


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
