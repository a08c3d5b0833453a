"""Form tokens: literal sequences, encode/decode identity on random well-formed forms, the
grammar of marks and pickups (random walks), and the playing order without form tokens."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from melodyrnn.core.form import ENDING, MAX_ENDINGS, REPEAT_END, REPEAT_START, FormState, Mark
from melodyrnn.core.key import MODE_INTERVALS, Key
from melodyrnn.core.melody import Melody, Note
from melodyrnn.core.meter import steps_per_bar
from melodyrnn.errors import TokenizerError
from melodyrnn.tokenizers import METERS, get_tokenizer, load_tokenizer

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
S, E = REPEAT_START, REPEAT_END
MARK_CHOICES = [(S, 0), (E, 0), *((ENDING, n) for n in range(1, MAX_ENDINGS + 1))]


def form_tokenizer(**options):
    return get_tokenizer("note", meter_token=True, form_tokens=True, **options)


def names(tok, melody: Melody) -> list[str]:
    return tok.ids_to_tokens(tok.encode(melody))


def allowed_names(tok, tokens: list[str]) -> set[str]:
    state = tok.grammar_state(tok.tokens_to_ids(tokens))
    return {tok.vocab[i] for i, ok in enumerate(tok.allowed_next(state)) if ok}


def tune_in_three() -> Melody:
    """3/4 with a one-beat pickup:  G |: c B A |1 G2 :|2 G3 |  (12 steps a bar)."""
    notes = [Note(67, 8, 4), Note(72, 12, 4), Note(71, 16, 4), Note(69, 20, 4), Note(67, 24, 8),
             Note(67, 32, 12)]
    form = [Mark(12, S), Mark(24, ENDING, 1), Mark(32, E), Mark(32, ENDING, 2)]
    return Melody(notes, time_signature=(3, 4), key="G:major", pickup_steps=4, form=form)


# --- literal token names ----------------------------------------------------------------------

def test_tokens_of_a_tune_with_pickup_and_endings():
    tok = form_tokenizer(bar_tokens=True, key_token=True)
    assert names(tok, tune_in_three()) == [
        "BOS", "TimeSig_3/4", "Key_G_major", "Pickup_4", "Bar", "Pitch_67", "Duration_4",
        "RepeatStart", "Bar", "Pitch_72", "Duration_4", "Pitch_71", "Duration_4", "Pitch_69",
        "Duration_4", "Ending_1", "Bar", "Pitch_67", "Duration_8", "RepeatEnd", "Ending_2",
        "Pitch_67", "Duration_12", "Bar", "EOS"]
    assert tok.decode(tok.encode(tune_in_three())) == tune_in_three()


def test_marks_cut_rests_and_stand_before_bars():
    tok = form_tokenizer(bar_tokens=True)
    # 2/4, 8 steps a bar: a rest from 2 to 14 crosses a `::` at 6 and the bar line at 8
    melody = Melody([Note(60, 0, 2), Note(62, 14, 2)], time_signature=(2, 4),
                    form=[Mark(6, E), Mark(6, S), Mark(16, E)])
    assert names(tok, melody) == [
        "BOS", "TimeSig_2/4", "Bar", "Pitch_60", "Duration_2", "Rest_4", "RepeatEnd",
        "RepeatStart", "Rest_2", "Bar", "Rest_6", "Pitch_62", "Duration_2", "RepeatEnd", "EOS"]
    # a repeat sign at the first beat stands before the first Bar
    melody = Melody([Note(60, 0, 8)], time_signature=(2, 4), form=[Mark(0, S), Mark(8, E)])
    assert names(tok, melody)[2:5] == ["RepeatStart", "Bar", "Pitch_60"]


def test_four_endings():
    tok = form_tokenizer()
    form = [Mark(4, ENDING, 1), Mark(6, E), Mark(6, ENDING, 2), Mark(8, E), Mark(8, ENDING, 3),
            Mark(10, E), Mark(10, ENDING, 4)]
    melody = Melody([Note(60, 0, 4), *(Note(62 + i, 4 + 2 * i, 2) for i in range(4))],
                    form=form)
    assert names(tok, melody)[4:] == [
        "Ending_1", "Pitch_62", "Duration_2", "RepeatEnd", "Ending_2", "Pitch_63", "Duration_2",
        "RepeatEnd", "Ending_3", "Pitch_64", "Duration_2", "RepeatEnd", "Ending_4", "Pitch_65",
        "Duration_2", "EOS"]
    assert tok.decode(tok.encode(melody)).form == melody.form


def test_a_pickup_without_a_timesig_token_is_a_leading_rest():
    tok = form_tokenizer()
    # 11/16 has no TimeSig token: no bar length to write the 3-step pickup against
    melody = Melody([Note(60, 8, 3), Note(62, 11, 4)], time_signature=(11, 16), pickup_steps=3,
                    form=[Mark(11, S), Mark(15, E)])
    assert names(tok, melody) == ["BOS", "TimeSig_other", "Rest_8", "Pitch_60", "Duration_3",
                                  "RepeatStart", "Pitch_62", "Duration_4", "RepeatEnd", "EOS"]
    decoded = tok.decode(tok.encode(melody))
    assert decoded.pickup_steps == 0 and decoded.notes == melody.notes
    assert decoded.form == melody.form


# --- vocabulary and options -------------------------------------------------------------------

def test_vocabulary_adds_marks_and_pickups_at_the_end():
    plain = get_tokenizer("note", bar_tokens=True, meter_token=True, key_token=True)
    tok = form_tokenizer(bar_tokens=True, key_token=True)
    added = tok.vocab[plain.vocab_size:]
    assert tok.vocab[:plain.vocab_size] == plain.vocab
    # the longest bar among the meters at 4 steps a quarter is 4/2: 32 steps
    assert added == ["RepeatStart", "RepeatEnd", "Ending_1", "Ending_2", "Ending_3", "Ending_4",
                     *(f"Pickup_{p}" for p in range(1, 32))]
    assert form_tokenizer(steps_per_quarter=12).vocab[-1] == "Pickup_95"


def test_tokenizer_file_without_form_tokens_is_unchanged(tmp_path):
    plain = get_tokenizer("note", bar_tokens=True, meter_token=True, key_token=True)
    assert "form_tokens" not in plain.to_dict()["options"]
    tok = form_tokenizer(bar_tokens=True)
    assert tok.to_dict()["options"]["form_tokens"] is True
    again = load_tokenizer(tok.save(tmp_path / "tokenizer.json"))
    assert again.to_dict() == tok.to_dict()
    assert again.decode(tok.encode(tune_in_three())) == tune_in_three().replace(key=None)


@pytest.mark.parametrize(("options", "named"), [
    ({"form_tokens": True}, "form_tokens=True needs meter_token=True"),
    ({"form_tokens": True, "meter_token": False}, "form_tokens=True needs meter_token=True"),
    ({"form_tokens": "yes", "meter_token": True}, "form_tokens='yes'"),
])
def test_form_tokens_options_are_checked(options, named):
    with pytest.raises(TokenizerError, match=named):
        get_tokenizer("note", **options)
    with pytest.raises(TokenizerError, match="no option 'form_tokens'"):
        get_tokenizer("grid", form_tokens=True, meter_token=True)


# --- where each may stand ---------------------------------------------------------------------

def test_pickup_only_opens_the_body_and_is_shorter_than_the_bar():
    tok = form_tokenizer(bar_tokens=True)
    first = allowed_names(tok, ["BOS", "TimeSig_3/4"])
    assert {f"Pickup_{p}" for p in range(1, 12)} <= first and "Pickup_12" not in first
    assert "RepeatStart" in first and "RepeatEnd" not in first and "EOS" in first
    for after in (["RepeatStart"], ["Bar"]):
        assert not any(t.startswith("Pickup") for t in allowed_names(tok, ["BOS", "TimeSig_3/4",
                                                                            *after]))
    assert not any(t.startswith("Pickup") for t in allowed_names(tok, ["BOS", "TimeSig_other"]))


def test_marks_after_a_bar_at_the_same_step_are_refused():
    tok = form_tokenizer(bar_tokens=True)
    prefix = ["BOS", "TimeSig_2/4", "Bar", "Pitch_60", "Duration_8"]
    assert {"RepeatEnd", "Ending_1", "RepeatStart", "Bar"} <= allowed_names(tok, prefix)
    assert not {"RepeatEnd", "Ending_1", "RepeatStart"} & allowed_names(tok, [*prefix, "Bar"])


def test_a_mark_ends_a_long_note_and_restarts_a_cut_rest():
    tok = form_tokenizer(max_duration_steps=4)
    after_full = allowed_names(tok, ["BOS", "TimeSig_4/4", "Pitch_60", "Duration_4"])
    assert "Hold_1" in after_full and "RepeatEnd" in after_full
    assert not any(t.startswith("Hold") for t in allowed_names(
        tok, ["BOS", "TimeSig_4/4", "Pitch_60", "Duration_4", "RepeatEnd"]))
    cut = ["BOS", "TimeSig_4/4", "Pitch_60", "Duration_2", "Rest_1"]
    assert "Rest_1" not in allowed_names(tok, cut)  # Rest_1 Rest_1 would be Rest_2
    assert "Rest_1" in allowed_names(tok, [*cut, "RepeatEnd"])


def test_eos_waits_for_the_form_to_close():
    tok = form_tokenizer()
    body = ["BOS", "TimeSig_4/4", "RepeatStart", "Pitch_60", "Duration_4"]
    assert "EOS" not in allowed_names(tok, body)
    assert tok.form_closing_ids(tok.grammar_state(tok.tokens_to_ids(body))) == \
        tuple(tok.tokens_to_ids(["RepeatEnd"]))
    assert "EOS" in allowed_names(tok, [*body, "RepeatEnd"])
    ending = ["BOS", "TimeSig_4/4", "Pitch_60", "Duration_4", "Ending_1", "Pitch_62",
              "Duration_4", "RepeatEnd"]
    assert allowed_names(tok, ending) == {"Ending_2"}  # it begins where ending 1 was closed
    assert "EOS" in allowed_names(tok, [*ending, "Ending_2"])
    assert tok.form_closing_ids(tok.grammar_state(tok.tokens_to_ids(body[:2]))) == ()


def test_decode_drops_the_form_left_open_by_a_cut_sequence():
    tok = form_tokenizer()
    ids = tok.tokens_to_ids(["BOS", "TimeSig_4/4", "Pitch_60", "Duration_4", "RepeatEnd",
                             "RepeatStart", "Pitch_62", "Duration_4", "Ending_1", "Pitch_64",
                             "Duration_4"])  # no EOS: the repeat from step 4 never closes
    melody, errors = tok.decode(ids, return_errors=True)
    assert errors == 2 and melody.form == (Mark(4, E),)
    assert [n.pitch for n in melody.notes] == [60, 62, 64]


# --- encode then decode is the identity, on random well-formed forms --------------------------

@st.composite
def melodies_with_form(draw, steps_per_quarter: int, longest: int) -> Melody:
    """Random melodies with a random well-formed written form: repeats, `::`, up to four
    endings, a pickup, marks at bar lines, between notes and inside rests."""
    meter = draw(st.sampled_from(METERS))
    spb = steps_per_bar(meter, steps_per_quarter)
    pickup = draw(st.one_of(st.just(0), st.integers(0, spb - 1)))
    start = spb - pickup if pickup else 0
    step, notes, free = start, [], {start}  # free: steps outside notes, where a mark may stand
    for _ in range(draw(st.integers(0, 10))):
        gap = draw(st.one_of(st.just(0), st.integers(1, 6), st.integers(1, 2 * spb)))
        free.update(range(step, step + gap + 1))
        step += gap
        duration = draw(st.one_of(st.integers(1, 6), st.integers(1, 2 * longest)))
        notes.append(Note(draw(st.integers(0, 127)), step, duration))
        step += duration
        free.add(step)
    end = step + draw(st.one_of(st.just(0), st.integers(1, 2 * spb)))
    free.update(range(step, end + 1))
    free_steps = sorted(free)
    bar_lines = [s for s in free_steps if s % spb == 0] or free_steps
    steps = draw(st.lists(st.sampled_from(free_steps), max_size=6)) + \
        draw(st.lists(st.sampled_from(bar_lines), max_size=4))
    state, marks = FormState(section_step=start), []
    for at in sorted(set(steps)):
        for _ in range(2):  # up to two marks at a step: `:|` then `|:` or `|n`
            options = [(kind, n) for kind, n in MARK_CHOICES if state.allows(kind, at, n)]
            if not options or (state.ending >= 0 and not draw(st.booleans())):
                break
            marks.append(Mark(at, *draw(st.sampled_from(options))))
            state = state.after(marks[-1])
    if not state.may_end():  # close the open repeat or ending at the end, later if need be
        if not state.allows(E, end):
            end += draw(st.integers(1, spb))
        marks.append(Mark(end, E))
        state = state.after(marks[-1])
        if state.ending < 0:
            marks.append(Mark(end, ENDING, 1 - state.ending))
    key = draw(st.one_of(st.none(), st.builds(Key, st.integers(0, 11),
                                              st.sampled_from(sorted(MODE_INTERVALS)))))
    return Melody(notes, steps_per_quarter=steps_per_quarter, time_signature=meter, key=key,
                  end_step=end, form=marks, pickup_steps=pickup)


@pytest.mark.parametrize("bars", [False, True], ids=["nobars", "bars"])
@pytest.mark.parametrize(("spq", "longest"), [(4, None), (4, 6), (12, None)],
                         ids=["spq4", "spq4-short", "spq12"])
def test_decode_encode_is_identity_with_form(bars, spq, longest):
    tok = form_tokenizer(steps_per_quarter=spq, bar_tokens=bars, key_token=True,
                         max_duration_steps=longest)

    @FAST
    @given(melodies_with_form(spq, tok.max_duration_steps))
    def run(melody):
        ids = tok.encode(melody)
        decoded, errors = tok.decode(ids, return_errors=True)
        assert errors == 0
        assert decoded == melody  # notes, meter, key, form and pickup
        assert decoded.end_step == melody.end_step
        assert tok.grammar_state(ids).phase == "end"  # every token was allowed where it stands

    run()


@pytest.mark.parametrize("name", ["note", "grid"])
def test_without_form_tokens_the_playing_order_is_encoded(name):
    tok = get_tokenizer(name, bar_tokens=True, meter_token=True)

    @FAST
    @given(melodies_with_form(4, 64))
    def run(melody):
        decoded, errors = tok.decode(tok.encode(melody), return_errors=True)
        played = melody.unfold()
        assert errors == 0 and decoded.form == () and decoded.pickup_steps == 0
        assert decoded.notes == played.notes and decoded.end_step == played.end_step

    run()


# --- every grammatical sequence decodes, and is what encode writes ----------------------------

def random_walk(tok, rng: random.Random, length: int, meters: list[int]) -> list[int]:
    """A grammatical sequence: a random kind of token, then a random one of that kind, while
    short; then the shortest way to EOS, closing the form first."""
    state, ids = tok.grammar_state(), []
    while state.phase != "end":
        assert len(ids) < length + 200, tok.ids_to_tokens(ids)
        allowed = [i for i, ok in enumerate(tok.allowed_next(state)) if ok]
        if state.phase == "timesig":
            allowed = meters
        elif len(ids) >= length:  # wind down
            first = [i for i in (tok.eos_id, *tok.form_closing_ids(state),
                                 *tok.tokens_to_ids(["Duration_1", "Rest_1"]), tok.bar_id)
                     if i in allowed]
            allowed = first[:1] or allowed
        by_kind = defaultdict(list)
        for i in allowed:
            by_kind[tok.vocab[i].split("_")[0]].append(i)
        token_id = rng.choice(by_kind[rng.choice(sorted(by_kind))])
        ids.append(token_id)
        state = tok.advance(state, token_id)
    return ids


@pytest.mark.parametrize("bars", [False, True], ids=["nobars", "bars"])
def test_every_grammatical_sequence_with_form_is_canonical(bars):
    """Each walk decodes cleanly into a valid Melody, and encode writes exactly it again."""
    tok = form_tokenizer(bar_tokens=bars, key_token=True, max_duration_steps=6)
    listed = tok.tokens_to_ids(f"TimeSig_{n}/{d}" for n, d in METERS)
    rng = random.Random(0)
    seen = set()
    for _ in range(300):
        ids = random_walk(tok, rng, rng.randrange(3, 80), listed)
        melody, errors = tok.decode(ids, return_errors=True)
        assert errors == 0
        assert tok.encode(melody) == ids, tok.ids_to_tokens(ids)
        seen.update(m.name for m in melody.form)
        seen.update(["Pickup"] if melody.pickup_steps else [])
    assert seen == {"RepeatStart", "RepeatEnd", "Pickup", *(f"Ending_{n}" for n in (1, 2, 3, 4))}


@pytest.mark.parametrize("bars", [False, True], ids=["nobars", "bars"])
def test_walks_with_an_unknown_meter_decode_cleanly(bars):
    tok = form_tokenizer(bar_tokens=bars, steps_per_quarter=3)
    rng = random.Random(1)
    for _ in range(100):
        ids = random_walk(tok, rng, rng.randrange(3, 60), tok.kind_ids("TimeSig"))
        melody, errors = tok.decode(ids, return_errors=True)
        assert errors == 0 and isinstance(melody, Melody)


def test_random_ids_with_form_tokens_never_raise():
    tok = form_tokenizer(bar_tokens=True, key_token=True)
    form_ids = tok.kind_ids(S) + tok.kind_ids(E) + tok.kind_ids(ENDING) + tok.kind_ids("Pickup")
    ids = st.one_of(st.integers(-3, tok.vocab_size + 3), st.sampled_from(form_ids),
                    st.sampled_from([tok.bar_id, 1, 2, *tok.tokens_to_ids(["Pitch_60",
                                                                          "Duration_2"])]))

    @FAST
    @given(st.lists(ids, max_size=60))
    def run(ids):
        melody, errors = tok.decode(ids, return_errors=True)
        assert 0 <= errors <= len(ids) + 1
        again, errors_again = tok.decode(tok.encode(melody), return_errors=True)
        assert errors_again == 0 and again.notes == melody.notes and again.form == melody.form

    run()
