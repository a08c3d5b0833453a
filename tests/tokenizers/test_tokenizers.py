"""Tokenizers: literal token names, encode/decode identity, malformed input, grammar, JSON."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from melodyrnn.core.key import MODE_INTERVALS, Key
from melodyrnn.core.melody import Melody, Note
from melodyrnn.errors import TokenizerError
from melodyrnn.tokenizers import METERS, get_tokenizer, load_tokenizer

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def tiny_melody(**context) -> Melody:
    """C4 for a quarter after an eighth rest, D4 an eighth, E4 a half; the bar ends silent."""
    notes = [Note(60, 2, 4), Note(62, 6, 2), Note(64, 8, 8)]
    return Melody(notes, end_step=20, **context)


# --- literal token names ----------------------------------------------------------------------

def test_note_tokens_of_tiny_melody():
    tok = get_tokenizer("note")
    assert tok.ids_to_tokens(tok.encode(tiny_melody())) == [
        "BOS", "Rest_2", "Pitch_60", "Duration_4", "Pitch_62", "Duration_2", "Pitch_64",
        "Duration_8", "Rest_4", "EOS"]


def test_note_tokens_with_prefix_and_bars():
    tok = get_tokenizer("note", bar_tokens=True, meter_token=True, key_token=True)
    melody = tiny_melody(time_signature=(3, 4), key=Key(2, "dorian"))  # 12 steps per bar
    assert tok.ids_to_tokens(tok.encode(melody)) == [
        "BOS", "TimeSig_3/4", "Key_D_dorian", "Bar", "Rest_2", "Pitch_60", "Duration_4",
        "Pitch_62", "Duration_2", "Pitch_64", "Duration_8", "Bar", "Rest_4", "EOS"]


def test_note_long_note_and_long_rest_are_split():
    tok = get_tokenizer("note", max_duration_steps=8)
    melody = Melody([Note(60, 19, 20)], end_step=39)
    assert tok.ids_to_tokens(tok.encode(melody)) == [
        "BOS", "Rest_8", "Rest_8", "Rest_3", "Pitch_60", "Duration_8", "Hold_8", "Hold_4", "EOS"]


def test_grid_tokens_of_tiny_melody():
    tok = get_tokenizer("grid")
    assert tok.ids_to_tokens(tok.encode(tiny_melody())) == [
        "BOS", "Hold", "Hold", "NoteOn_60", "Hold", "Hold", "Hold", "NoteOn_62", "Hold",
        "NoteOn_64", *["Hold"] * 7, "NoteOff", "Hold", "Hold", "Hold", "EOS"]


def test_grid_tokens_with_bars_and_repeated_pitch():
    tok = get_tokenizer("grid", bar_tokens=True, meter_token=True)
    melody = Melody([Note(60, 0, 2), Note(60, 2, 1)], time_signature=(3, 8))  # 6 steps per bar
    assert tok.ids_to_tokens(tok.encode(melody)) == [
        "BOS", "TimeSig_3/8", "Bar", "NoteOn_60", "Hold", "NoteOn_60", "EOS"]


# --- encode then decode is the identity -------------------------------------------------------

@st.composite
def melodies(draw, steps_per_quarter: int, longest: int, pitch_range=(0, 127)) -> Melody:
    """Random monophonic melodies, with gaps and durations up to 3x the longest token."""
    step, notes = 0, []
    for _ in range(draw(st.integers(0, 10))):
        step += draw(st.one_of(st.just(0), st.integers(1, 6), st.integers(1, 3 * longest)))
        duration = draw(st.one_of(st.integers(1, 6), st.integers(1, 3 * longest)))
        notes.append(Note(draw(st.integers(*pitch_range)), step, duration))
        step += duration
    key = draw(st.one_of(st.none(), st.builds(Key, st.integers(0, 11),
                                              st.sampled_from(sorted(MODE_INTERVALS)))))
    return Melody(notes, steps_per_quarter=steps_per_quarter,
                  time_signature=draw(st.sampled_from(METERS)), key=key,
                  end_step=step + draw(st.one_of(st.just(0), st.integers(1, 2 * longest))))


def check_identity(tok, melody: Melody, prefix: bool) -> None:
    ids = tok.encode(melody)
    decoded, errors = tok.decode(ids, return_errors=True)
    assert errors == 0
    assert decoded.notes == melody.notes  # pitch, start, duration and velocity 80
    assert decoded.end_step == melody.end_step  # the trailing silence is encoded
    assert decoded.steps_per_quarter == melody.steps_per_quarter
    if prefix:
        assert decoded.time_signature == melody.time_signature
        assert decoded.key == melody.key
    assert tok.grammar_state(ids).phase == "end"  # the grammar accepts every encoder output


@pytest.mark.parametrize("name", ["note", "grid"])
@pytest.mark.parametrize("bars", [False, True], ids=["nobars", "bars"])
@pytest.mark.parametrize("prefix", [False, True], ids=["noprefix", "prefix"])
@pytest.mark.parametrize("spq", [4, 12], ids=["spq4", "spq12"])
def test_decode_encode_is_identity(name, bars, prefix, spq):
    tok = get_tokenizer(name, steps_per_quarter=spq, bar_tokens=bars, meter_token=prefix,
                        key_token=prefix)
    longest = getattr(tok, "max_duration_steps", 16 * spq)

    @FAST
    @given(melodies(spq, longest))
    def run(melody):
        check_identity(tok, melody, prefix)

    run()


@pytest.mark.parametrize("bars", [False, True], ids=["nobars", "bars"])
def test_identity_with_short_max_duration_and_narrow_range(bars):
    tok = get_tokenizer("note", pitch_range=(48, 84), max_duration_steps=5, bar_tokens=bars,
                        meter_token=True)

    @FAST
    @given(melodies(4, 5, pitch_range=(48, 84)))
    def run(melody):
        check_identity(tok, melody, prefix=False)

    run()


# --- malformed sequences ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["note", "grid"])
@pytest.mark.parametrize("bars", [False, True], ids=["nobars", "bars"])
def test_random_ids_never_raise(name, bars):
    tok = get_tokenizer(name, bar_tokens=bars, meter_token=True, key_token=True)
    ids = st.integers(-3, tok.vocab_size + 3)

    @FAST
    @given(st.lists(st.one_of(ids, st.sampled_from([*tok.kind_ids("Bar"), 1, 2, 3])),
                    max_size=60))
    def run(ids):
        melody, errors = tok.decode(ids, return_errors=True)
        assert 0 <= errors <= len(ids) + 1
        again, errors_again = tok.decode(tok.encode(melody), return_errors=True)
        assert errors_again == 0 and again.notes == melody.notes

    run()


def note_ids(tok, *tokens):
    return [t if isinstance(t, int) else tok.token_to_id[t] for t in tokens]


@pytest.mark.parametrize(("tokens", "errors", "notes"), [
    (["BOS", "Duration_4", "EOS"], 1, []),
    (["BOS", "Pitch_60", "Pitch_62", "Duration_4", "EOS"], 1, [(60, 0, 4)]),
    (["BOS", "Pitch_60", "Duration_4", "EOS", "Pitch_62", "Duration_4"], 2, [(60, 0, 4)]),
    (["BOS", "Pitch_60", "BOS", "Duration_4", "PAD", 99999, -1], 4, [(60, 0, 4)]),
    (["Pitch_60", "Duration_4", "Pitch_62"], 1, [(60, 0, 4)]),  # dangling Pitch at the end
    (["BOS", "Pitch_60", "Duration_3", "Hold_2", "EOS"], 1, [(60, 0, 3)]),  # Hold after short
    (["BOS", "Rest_2", "Rest_3", "Pitch_60", "Duration_1"], 1, [(60, 2, 1)]),  # split rest
    (["BOS", "Rest_64", "Rest_3", "Pitch_60", "Duration_64", "Hold_1"], 0, [(60, 67, 65)]),
    ([], 0, []),
])
def test_note_error_counts(tokens, errors, notes):
    tok = get_tokenizer("note")
    melody, count = tok.decode(note_ids(tok, *tokens), return_errors=True)
    assert count == errors
    assert [(n.pitch, n.start_step, n.duration_steps) for n in melody.notes] == notes


def test_note_bar_errors_need_a_known_meter():
    tok = get_tokenizer("note", bar_tokens=True, meter_token=True)
    # 2/4 at 4 steps per quarter: 8 steps per bar, so the Pitch at step 8 needs a Bar first
    ids = note_ids(tok, "BOS", "TimeSig_2/4", "Bar", "Pitch_60", "Duration_8", "Pitch_62",
                   "Bar", "Bar", "Pitch_64", "Duration_2", "Rest_9", "EOS")
    melody, count = tok.decode(ids, return_errors=True)
    assert count == 3  # Pitch_62 (a Bar is owed), the second Bar, Rest_9 (crosses step 16)
    assert [(n.pitch, n.start_step) for n in melody.notes] == [(60, 0), (64, 8)]
    assert tok.ids_to_tokens(tok.encode(melody))[:6] == [
        "BOS", "TimeSig_2/4", "Bar", "Pitch_60", "Duration_8", "Bar"]
    unknown = get_tokenizer("note", bar_tokens=True)  # meter unknown: Bars are not checked
    assert unknown.decode(note_ids(unknown, "Bar", "Bar", "Pitch_60", "Duration_4", "Bar"),
                          return_errors=True)[1] == 0


def test_grid_error_counts():
    tok = get_tokenizer("grid")
    ids = note_ids(tok, "BOS", "NoteOff", "NoteOn_60", "Hold", "NoteOff", "NoteOff", "Hold",
                   "NoteOn_60", "NoteOn_60", "PAD", "EOS", "Hold")
    melody, count = tok.decode(ids, return_errors=True)
    assert count == 4  # NoteOff in silence (twice), PAD, Hold after EOS
    assert [(n.pitch, n.start_step, n.duration_steps) for n in melody.notes] == [
        (60, 0, 2), (60, 4, 1), (60, 5, 1)]
    assert melody.end_step == 6


def test_decode_accepts_numpy_arrays():
    np = pytest.importorskip("numpy")
    tok = get_tokenizer("note")
    ids = tok.encode(tiny_melody())
    assert tok.decode(np.array(ids, dtype=np.uint16)).notes == tiny_melody().notes


def test_decoded_context_defaults():
    melody = get_tokenizer("note").decode([])
    assert (melody.qpm, melody.time_signature, melody.key) == (120, (4, 4), None)
    assert melody.end_step == 0
    tok = get_tokenizer("note", meter_token=True, key_token=True)
    melody = tok.decode(note_ids(tok, "BOS", "TimeSig_other", "Key_none", "EOS"))
    assert (melody.time_signature, melody.key) == ((4, 4), None)
    assert tok.ids_to_tokens(tok.encode(Melody([], time_signature=(11, 16))))[1] == "TimeSig_other"


# --- grammar API ------------------------------------------------------------------------------

def random_walk(tok, rng: random.Random, length: int) -> list[int]:
    """A grammatical sequence: random allowed tokens, then the shortest way to EOS."""
    listed = [tok.token_to_id[f"TimeSig_{n}/{d}"] for n, d in METERS]
    state, ids = tok.grammar_state(), []
    while state.phase != "end":
        allowed = [i for i, ok in enumerate(tok.allowed_next(state)) if ok]
        if state.phase == "timesig":
            allowed = listed  # TimeSig_other would leave the bars unchecked
        elif len(ids) >= length:  # wind down: EOS as soon as the grammar allows it
            allowed = [tok.eos_id] if tok.eos_id in allowed else allowed[:1]
        token_id = rng.choice(allowed)
        ids.append(token_id)
        state = tok.advance(state, token_id)
    return ids


@pytest.mark.parametrize("name", ["note", "grid"])
@pytest.mark.parametrize("bars", [False, True], ids=["nobars", "bars"])
def test_every_grammatical_sequence_is_canonical(name, bars):
    """The grammar allows one sequence per melody: encode(decode(ids)) == ids."""
    tok = get_tokenizer(name, bar_tokens=bars, meter_token=True, key_token=True,
                        **({"max_duration_steps": 6} if name == "note" else {}))
    rng = random.Random(0)
    for _ in range(150):
        ids = random_walk(tok, rng, rng.randrange(3, 80))
        melody, errors = tok.decode(ids, return_errors=True)
        assert errors == 0
        assert tok.encode(melody) == ids, tok.ids_to_tokens(ids)


def test_grammar_prefix_and_advance():
    tok = get_tokenizer("note", meter_token=True, key_token=True)
    state = tok.grammar_state()
    assert [i for i, ok in enumerate(tok.allowed_next(state)) if ok] == [tok.bos_id]
    state = tok.advance(state, tok.bos_id)
    allowed = {tok.vocab[i] for i, ok in enumerate(tok.allowed_next(state)) if ok}
    assert allowed == {f"TimeSig_{n}/{d}" for n, d in METERS} | {"TimeSig_other"}
    with pytest.raises(TokenizerError, match="Pitch_60 may not come here"):
        tok.advance(state, tok.token_to_id["Pitch_60"])
    state = tok.grammar_state(tok.encode_prefix("6/8", "D:dorian") + note_ids(tok, "Pitch_62"))
    assert state.phase == "duration" and state.pitch == 62
    assert {tok.vocab[i][:9] for i, ok in enumerate(tok.allowed_next(state)) if ok} == {"Duration_"}
    assert len(tok.allowed_next(state)) == tok.vocab_size


@pytest.mark.parametrize(("name", "kind"), [("note", "Pitch"), ("grid", "NoteOn")])
def test_pitch_tokens(name, kind):
    tok = get_tokenizer(name, pitch_range=(48, 84))
    assert [tok.vocab[i] for i in tok.pitch_token_ids] == [f"{kind}_{p}" for p in range(48, 85)]
    assert tok.token_pitch(tok.token_to_id[f"{kind}_60"]) == 60
    assert tok.token_pitch(tok.eos_id) is None and tok.token_pitch(10**6) is None


# --- options, errors, JSON --------------------------------------------------------------------

@pytest.mark.parametrize(("name", "options", "named"), [
    ("note", {"steps_per_quarter": 0}, "steps_per_quarter=0"),
    ("note", {"pitch_range": (70, 60)}, r"pitch_range=\(70, 60\)"),
    ("grid", {"pitch_range": (0, 128)}, r"pitch_range=\(0, 128\)"),
    ("note", {"max_duration_steps": 0}, "max_duration_steps=0"),
    ("note", {"bar_tokens": "yes"}, "bar_tokens='yes'"),
    ("grid", {"max_duration_steps": 8}, "no option 'max_duration_steps'.*steps_per_quarter"),
    ("midi-like", {}, "unknown tokenizer 'midi-like'; valid names: note, grid"),
])
def test_bad_options_name_the_value(name, options, named):
    with pytest.raises(TokenizerError, match=named):
        get_tokenizer(name, **options)


def test_encode_refuses_what_it_cannot_represent():
    tok = get_tokenizer("grid", pitch_range=(48, 84))
    with pytest.raises(TokenizerError, match=r"tune.mid: note 1 .* pitch 90, outside .* 48-84"):
        tok.encode(Melody([Note(60, 0, 1), Note(90, 1, 1)], source="tune.mid"))
    with pytest.raises(TokenizerError, match=r"steps_per_quarter 12 .* uses 4"):
        get_tokenizer("note").encode(Melody([], steps_per_quarter=12))


@pytest.mark.parametrize("name", ["note", "grid"])
def test_json_round_trip(tmp_path, name):
    tok = get_tokenizer(name, steps_per_quarter=12, pitch_range=(40, 90), bar_tokens=True,
                        key_token=True)
    path = tok.save(tmp_path / "tokenizer.json")
    data = json.loads(path.read_text())
    assert data["name"] == name and data["vocab"] == tok.vocab
    for source in (path, str(path), data):
        again = load_tokenizer(source)
        assert type(again) is type(tok) and again.to_dict() == tok.to_dict()
    melody = Melody([Note(50, 3, 30)], steps_per_quarter=12, key="G")
    assert again.decode(tok.encode(melody)).notes == melody.notes


def test_load_refuses_a_changed_vocabulary(tmp_path):
    data = get_tokenizer("note").to_dict()
    data["vocab"][5] = "Pitch_999"
    with pytest.raises(TokenizerError, match=r"differs .* at id 5: 'Pitch_999' stored"):
        load_tokenizer(data)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(TokenizerError, match=r"bad\.json: not valid JSON"):
        load_tokenizer(tmp_path / "bad.json")
    with pytest.raises(TokenizerError, match=r"missing\.json: cannot read"):
        load_tokenizer(tmp_path / "missing.json")
    with pytest.raises(TokenizerError, match="unknown tokenizer 'abc'"):
        load_tokenizer({"name": "abc", "options": {}, "vocab": []})


def test_tokens_to_ids_names_unknown_token():
    tok = get_tokenizer("note")
    assert tok.tokens_to_ids(["BOS", "Pitch_60"]) == [1, tok.token_to_id["Pitch_60"]]
    with pytest.raises(TokenizerError, match="'Pitch_200' is not in the note"):
        tok.tokens_to_ids(["Pitch_200"])


def test_import_is_cheap():
    code = ("import sys, melodyrnn.tokenizers; "
            "print(sorted(m for m in ('torch', 'music21', 'pretty_midi', 'numpy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
