"""Lookback features: a hand-built figure played twice, streams against the tracker, beams,
padding, and the tokenizers that cannot give bar lines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from melodyrnn.core.melody import Melody, Note
from melodyrnn.errors import ConfigError
from melodyrnn.models.lookback import (
    NO_POSITION,
    LookbackRows,
    LookbackTracker,
    batch_features,
    check_lookback_tokenizer,
    stream_features,
)
from melodyrnn.models.network import MelodyLSTM
from melodyrnn.tokenizers import get_tokenizer


@pytest.fixture(scope="module")
def tok():
    return get_tokenizer("note", pitch_range=(48, 84), bar_tokens=True, meter_token=True)


def figure_twice() -> Melody:
    """Bar A (C4 D4 in halves) and bar B (E4 whole), then A B again: 4/4, 4 steps a quarter."""
    notes = []
    for start in (0, 32):
        notes += [Note(60, start, 8), Note(62, start + 8, 8), Note(64, start + 16, 16)]
    return Melody(notes, time_signature=(4, 4))


def named(tok, features: np.ndarray) -> list[tuple]:
    """Each row as (position, BACK_1 name, BACK_2 name, REPEAT_1, REPEAT_2)."""
    return [(int(p), *tok.ids_to_tokens([a, b]), int(r1), int(r2))
            for p, a, b, r1, r2 in features]


def test_a_two_bar_figure_played_twice(tok) -> None:
    ids = tok.encode(figure_twice())
    assert tok.ids_to_tokens(ids) == [
        "BOS", "TimeSig_4/4", "Bar", "Pitch_60", "Duration_8", "Pitch_62", "Duration_8",
        "Bar", "Pitch_64", "Duration_16",
        "Bar", "Pitch_60", "Duration_8", "Pitch_62", "Duration_8",
        "Bar", "Pitch_64", "Duration_16", "EOS"]
    rows = named(tok, stream_features(tok, ids))
    # meter unknown until the TimeSig token; nothing to look back at in the first bar
    assert rows[0] == (NO_POSITION, "PAD", "PAD", 0, 0)
    assert rows[1:7] == [(0, "PAD", "PAD", 0, 0), (0, "PAD", "PAD", 0, 0),
                         (0, "PAD", "PAD", 0, 0), (24, "PAD", "PAD", 0, 0),
                         (24, "PAD", "PAD", 0, 0), (0, "PAD", "PAD", 0, 0)]
    # bar B, one bar after A: after its Bar came Pitch_60, after a Pitch at step 0 Duration_8
    assert rows[7:10] == [(0, "Pitch_60", "PAD", 0, 0), (0, "Duration_8", "PAD", 0, 0),
                          (0, "Bar", "PAD", 0, 0)]
    # the second pass: two bars back predicts every next token, and each token repeats it
    assert rows[10:18] == [
        (0, "Pitch_64", "Pitch_60", 1, 0),  # the Bar after Duration_16, as one bar earlier
        (0, "Duration_16", "Duration_8", 0, 1),
        (24, "PAD", "Pitch_62", 0, 1),
        (24, "PAD", "Duration_8", 0, 1),
        (0, "Bar", "Bar", 0, 1),
        (0, "Pitch_60", "Pitch_64", 1, 1),
        (0, "Duration_8", "Duration_16", 0, 1),
        (0, "Bar", "Bar", 0, 1)]
    assert rows[18] == (0, "PAD", "PAD", 0, 0)  # EOS: no EOS one bar earlier


def test_grid_tokens_look_back_by_step_and_kind() -> None:
    grid = get_tokenizer("grid", steps_per_quarter=1, pitch_range=(48, 84), meter_token=True)
    # a 2/4 bar is 2 steps: C D | E - | C D | E -
    melody = Melody([Note(60, 0, 1), Note(62, 1, 1), Note(64, 2, 2), Note(60, 4, 1),
                     Note(62, 5, 1), Note(64, 6, 2)], steps_per_quarter=1, time_signature=(2, 4))
    ids = grid.encode(melody)
    rows = named(grid, stream_features(grid, ids))
    assert grid.ids_to_tokens(ids)[6:10] == ["NoteOn_60", "NoteOn_62", "NoteOn_64", "Hold"]
    assert rows[6:10] == [(24, "Hold", "NoteOn_62", 0, 0), (0, "PAD", "NoteOn_64", 0, 1),
                          (24, "NoteOn_62", "Hold", 0, 1), (0, "PAD", "NoteOn_60", 0, 1)]


@pytest.mark.parametrize("name", ["note", "grid"])
def test_stream_features_are_the_trackers_and_reset_at_every_bos(name: str,
                                                                 folk_tune: Melody) -> None:
    tokenizer = get_tokenizer(name, pitch_range=(48, 84), bar_tokens=True, meter_token=True)
    tunes = [tokenizer.encode(m) for m in (folk_tune, figure_twice(), folk_tune)]
    stream = np.array([t for tune in tunes for t in tune])
    tracker = LookbackTracker(tokenizer)
    pushed = np.array([tracker.push(int(t)) for t in stream])
    each = np.concatenate([stream_features(tokenizer, tune) for tune in tunes])
    assert np.array_equal(stream_features(tokenizer, stream), pushed)
    assert np.array_equal(pushed, each)  # a tune's features do not depend on the one before
    assert (pushed[:, 4] == 1).sum() > 0  # the figure's second pass repeats


def test_features_never_depend_on_later_tokens(tok, folk_tune: Melody) -> None:
    ids = tok.encode(folk_tune)
    whole = stream_features(tok, ids)
    for cut in (1, 5, len(ids) // 2, len(ids) - 1):
        assert np.array_equal(stream_features(tok, ids[:cut]), whole[:cut])


def test_padding_reads_as_nothing(tok) -> None:
    ids = tok.encode(figure_twice())
    tracker = LookbackTracker(tok)
    rows = [tracker.push(t) for t in ids[:12]]
    assert tracker.push(tok.pad_id) == (NO_POSITION, tok.pad_id, tok.pad_id, 0, 0)
    rows += [tracker.push(t) for t in ids[12:]]
    assert np.array_equal(np.array(rows), stream_features(tok, ids))
    padded = batch_features(tok, [ids[:5], ids], len(ids))
    assert padded.shape == (2, len(ids), 5) and padded.dtype == torch.long
    assert padded[0, 5:].tolist() == [[NO_POSITION, tok.pad_id, tok.pad_id, 0, 0]] * (len(ids) - 5)
    assert torch.equal(padded[1], torch.from_numpy(stream_features(tok, ids).astype(np.int64)))


def test_sampler_rows_follow_their_parents(tok) -> None:
    """Beam search reorders rows: each row's features stay those of its own sequence."""
    network = MelodyLSTM(tok.vocab_size, lookback=True, hidden_size=8, embedding_dim=8)
    prefix = tok.encode(figure_twice())[:10]
    rows = LookbackRows(network, tok, prefix, 3)
    assert rows.prefix is not None and rows.prefix.shape == (3, 10, 5)
    seqs = [list(prefix) for _ in range(3)]
    bar, pitch_60, pitch_64 = tok.tokens_to_ids(["Bar", "Pitch_60", "Pitch_64"])
    duration_8 = tok.tokens_to_ids(["Duration_8"])[0]
    for step, (tokens, parents) in enumerate([([bar, bar, bar], None),
                                              ([pitch_60, pitch_64, pitch_60], [1, 1, 0]),
                                              ([duration_8, duration_8, duration_8], None)]):
        if parents is not None:
            rows.reorder(torch.tensor(parents))
            seqs = [list(seqs[p]) for p in parents]
        fed = rows.push(torch.tensor(tokens))
        assert fed is not None and fed.shape == (3, 1, 5)
        for r in range(3):
            seqs[r].append(tokens[r])
            expected = stream_features(tok, seqs[r])[-1].tolist()
            assert fed[r, 0].tolist() == expected, f"row {r} at step {step}"


def test_a_network_without_lookback_gets_none(tok) -> None:
    rows = LookbackRows(MelodyLSTM(tok.vocab_size, hidden_size=8), tok, [tok.bos_id], 2)
    assert rows.prefix is None and rows.push(torch.tensor([3, 4])) is None
    rows.reorder(torch.tensor([1, 0]))  # nothing to reorder, and no error


@pytest.mark.parametrize(("name", "options", "message"), [
    ("note", {}, "lookback needs bar lengths, which only a TimeSig token gives; the note "
                 "tokenizer has meter_token=False"),
    ("grid", {"meter_token": False}, "the grid tokenizer has meter_token=False"),
    ("words", {"meter_token": True}, "lookback needs the note or grid tokenizer, which count "
                                     "steps; got tokenizer 'words'"),
], ids=["note-no-meter", "grid-no-meter", "unknown-encoding"])
def test_tokenizers_without_bar_lines_are_refused(name: str, options: dict,
                                                  message: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_lookback_tokenizer(name, options)
    assert message in str(info.value)
    if name != "words":
        with pytest.raises(ConfigError, match="meter_token=False"):
            LookbackTracker(get_tokenizer(name, **options))

