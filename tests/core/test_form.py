"""Written form: the rules of well-formed marks, the playing order, and Melody.unfold."""

from __future__ import annotations

import pytest

from melodyrnn import Melody, Note
from melodyrnn.core.form import ENDING, REPEAT_END, REPEAT_START, FormState, Mark, playing_order
from melodyrnn.errors import MelodyError

S, E = REPEAT_START, REPEAT_END


def bars(*pitches: int, bar: int = 16) -> list[Note]:
    """One whole-bar note per pitch, from step 0."""
    return [Note(p, i * bar, bar) for i, p in enumerate(pitches)]


def test_plain_repeat_plays_twice_from_the_start():
    assert playing_order([Mark(32, E)], 0, 64) == [(0, 32), (0, 64)]


def test_two_parts_each_repeated():
    marks = [Mark(32, E), Mark(32, S), Mark(64, E)]
    assert playing_order(marks, 0, 64) == [(0, 32), (0, 64), (32, 64)]


def test_first_and_second_endings():
    # |: A (0-32) |1 x (32-48) :|2 y (48-64) |
    marks = [Mark(0, S), Mark(32, ENDING, 1), Mark(48, E), Mark(48, ENDING, 2)]
    assert playing_order(marks, 0, 64) == [(0, 48), (0, 32), (48, 64)]


def test_three_endings():
    marks = [Mark(16, ENDING, 1), Mark(24, E), Mark(24, ENDING, 2), Mark(32, E),
             Mark(32, ENDING, 3)]
    assert playing_order(marks, 0, 40) == [(0, 24), (0, 16), (24, 32), (0, 16), (32, 40)]


def test_repeat_after_endings_goes_back_to_its_own_start():
    marks = [Mark(16, ENDING, 1), Mark(24, E), Mark(24, ENDING, 2), Mark(32, S), Mark(48, E)]
    assert playing_order(marks, 0, 48) == [(0, 24), (0, 16), (24, 48), (32, 48)]


def test_a_pickup_is_repeated_from_where_the_tune_begins():
    # 4/4 with a one-beat pickup: the tune starts at step 12; the repeat goes back there
    notes = [Note(67, 12, 4)] + [Note(72, 16 + 4 * i, 4) for i in range(7)]
    melody = Melody(notes, pickup_steps=4, form=[Mark(44, E)])
    played = melody.unfold()
    assert played.form == () and played.pickup_steps == 4
    assert played.pitches == melody.pitches * 2
    assert [n.start_step for n in played.notes][:9] == [12, 16, 20, 24, 28, 32, 36, 40, 44]
    assert played.end_step == 12 + 2 * 32


def test_unfold_of_a_tune_without_form_is_itself():
    melody = Melody(bars(60, 62))
    assert melody.unfold() is melody


def test_unfold_chooses_the_ending_by_pass():
    melody = Melody(bars(60, 62, 64, 65), form=[Mark(32, ENDING, 1), Mark(48, E),
                                                Mark(48, ENDING, 2)])
    assert melody.unfold().pitches == [60, 62, 64, 60, 62, 65]
    assert melody.unfold().end_step == 96


def test_marks_are_kept_in_their_written_order():
    melody = Melody(bars(60, 62, 64), form=[Mark(32, S), Mark(32, E), Mark(48, E)])
    assert [m.name for m in melody.form] == ["RepeatEnd", "RepeatStart", "RepeatEnd"]
    assert "form RepeatEnd RepeatStart RepeatEnd" in repr(melody)


@pytest.mark.parametrize("marks, words", [
    ([Mark(0, E)], "well-formed"),  # nothing to repeat
    ([Mark(16, S), Mark(20, S)], "already open"),
    ([Mark(16, ENDING, 2)], "well-formed"),
    ([Mark(16, ENDING, 1)], "ending 1 has no repeat end"),
    ([Mark(16, ENDING, 1), Mark(32, E)], "ending 2 never begins"),
    ([Mark(16, S)], "repeat start has no repeat end"),
    ([Mark(8, E)], "sounds across"),
    ([Mark(16, ENDING, 7)], "not 1-4"),
])
def test_malformed_form_is_refused_with_a_reason(marks, words):
    with pytest.raises(MelodyError, match=words):
        Melody(bars(60, 62, 64), form=marks, source="t.abc")


def test_pickup_must_be_shorter_than_a_bar_and_come_first():
    with pytest.raises(MelodyError, match="shorter than a bar"):
        Melody(bars(60), pickup_steps=16)
    with pytest.raises(MelodyError, match="before the 4-step pickup"):
        Melody([Note(60, 0, 4)], pickup_steps=4)
    assert Melody([Note(60, 12, 4)], pickup_steps=4).start_step == 12
    with pytest.raises(MelodyError, match="outside the tune"):
        Melody([Note(60, 12, 4)], pickup_steps=4, form=[Mark(4, E)])


def test_form_state_allows_only_the_next_ending_after_a_closed_one():
    state = FormState().after(Mark(8, ENDING, 1)).after(Mark(16, E))
    assert state.allows(ENDING, 16, 2)
    assert not state.allows(S, 16) and not state.allows(E, 16) and not state.may_end()
    assert state.after(Mark(16, ENDING, 2)).may_end()


def test_transpose_and_replace_keep_the_form():
    melody = Melody(bars(60, 62), form=[Mark(16, E)])
    assert melody.transpose(2).form == melody.form
    assert melody.replace(qpm=90).form == melody.form
