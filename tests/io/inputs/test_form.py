"""Written form as read: signs as music21 hands them over, made well-formed or refused."""

from __future__ import annotations

import pytest

from melodyrnn.core.form import ENDING, REPEAT_END, REPEAT_START, Mark
from melodyrnn.core.melody import Note
from melodyrnn.io.inputs.form import FormDropped, WrittenSigns, normalise, split_at_marks

S, E = REPEAT_START, REPEAT_END


def ending(step: int, number: int) -> Mark:
    return Mark(step, ENDING, number)


def read(marks: list[Mark], closes: dict[int, int] | None = None, start: int = 0) -> list[str]:
    return [str(m) for m in normalise(WrittenSigns(marks, closes or {}), start)]


def test_well_formed_signs_pass_unchanged():
    marks = [Mark(0, S), ending(32, 1), Mark(48, E), ending(48, 2), Mark(64, S), Mark(96, E)]
    assert read(marks, {32: 48, 48: 64}) == ["RepeatStart@0", "Ending_1@32", "RepeatEnd@48",
                                             "Ending_2@48", "RepeatStart@64", "RepeatEnd@96"]


def test_a_part_after_the_last_ending_repeats_from_where_that_ending_closes():
    # |: A |1 x :|2 y | B :|   (the B part's |: left off)
    marks = [Mark(0, S), ending(32, 1), Mark(48, E), ending(48, 2), Mark(96, E)]
    assert read(marks, {32: 48, 48: 64}) == ["RepeatStart@0", "Ending_1@32", "RepeatEnd@48",
                                             "Ending_2@48", "RepeatStart@64", "RepeatEnd@96"]


def test_a_part_after_a_long_last_ending_begins_at_the_double_bar():
    # |1 x :|2 y y y || B :|  (music21 closes an ABC second ending's bracket after one bar)
    marks = [ending(32, 1), Mark(48, E), ending(48, 2), Mark(128, E)]
    signs = WrittenSigns(marks, {32: 48, 48: 64}, double_bars=(96, 128))
    assert [str(m) for m in normalise(signs, 0)] == [
        "Ending_1@32", "RepeatEnd@48", "Ending_2@48", "RepeatStart@96", "RepeatEnd@128"]


def test_endings_of_the_next_part_after_the_last_ending_start_it_too():
    marks = [ending(32, 1), Mark(48, E), ending(48, 2), ending(96, 1), Mark(112, E),
             ending(112, 2)]
    assert read(marks, {32: 48, 48: 64, 96: 112, 112: 128}) == [
        "Ending_1@32", "RepeatEnd@48", "Ending_2@48", "RepeatStart@64", "Ending_1@96",
        "RepeatEnd@112", "Ending_2@112"]


def test_a_first_ending_closed_by_a_repeat_is_followed_by_the_second():
    # |: A |1 x :| rest of the tune (no |2 written)
    assert read([Mark(0, S), ending(32, 1), Mark(48, E)], {32: 48}) == [
        "RepeatStart@0", "Ending_1@32", "RepeatEnd@48", "Ending_2@48"]


def test_a_repeat_closing_the_last_ending_repeats_nothing_and_is_left_out():
    # |1 x :|2 y :| (the habit of closing every ending with :|), then the tune ends or goes on
    marks = [ending(32, 1), Mark(48, E), ending(48, 2), Mark(64, E)]
    endings = ["Ending_1@32", "RepeatEnd@48", "Ending_2@48"]
    assert read(marks, {32: 48, 48: 64}) == endings
    assert read([*marks, Mark(64, S), Mark(96, E)], {32: 48, 48: 64}) == [
        *endings, "RepeatStart@64", "RepeatEnd@96"]  # `:: B :|` after the last ending
    assert read([*marks, Mark(96, E)], {32: 48, 48: 64}) == [
        *endings, "RepeatStart@64", "RepeatEnd@96"]  # `:| B :|`: B repeats on its own


def test_endings_without_their_repeat_get_it():
    # MusicXML may stop ending 1 and start ending 2 with no backward repeat between
    assert read([ending(32, 1), ending(48, 2)], {32: 48, 48: 64}) == [
        "Ending_1@32", "RepeatEnd@48", "Ending_2@48"]


def test_a_repeat_start_with_no_end_is_played_once():
    assert read([Mark(0, S), Mark(32, S), Mark(64, E)]) == ["RepeatStart@32", "RepeatEnd@64"]
    assert read([Mark(32, E), Mark(64, S)]) == ["RepeatEnd@32"]


def test_a_doubled_sign_counts_once():
    assert read([Mark(32, E), Mark(32, E), Mark(32, S), Mark(32, S)]) == ["RepeatEnd@32"]


def test_a_pickup_start_is_where_the_first_part_begins():
    assert read([Mark(12, E)], start=12) == []  # nothing to repeat
    assert read([Mark(40, E)], start=12) == ["RepeatEnd@40"]


@pytest.mark.parametrize(("marks", "closes", "reason"), [
    ([Mark(0, S), ending(32, 1)], {32: 48}, "a first ending never closed"),
    ([ending(32, 1), Mark(40, S), Mark(48, E)], {32: 48}, "a repeat starts inside a first ending"),
    ([ending(32, 2), Mark(48, E)], {32: 48}, "ending 2 out of order"),
    ([Mark(32, E), ending(32, 1)], {32: 48}, "ending 1 out of order"),
], ids=["open first ending", "start in ending 1", "ending 2 first", "empty ending part"])
def test_what_cannot_be_mended_is_refused_with_a_reason(marks, closes, reason):
    with pytest.raises(FormDropped, match=f"^{reason}$"):
        read(marks, closes)


def test_notes_sounding_across_a_mark_are_split_there():
    notes = [Note(60, 0, 8), Note(62, 28, 8, velocity=90), Note(64, 40, 40)]
    assert split_at_marks(notes, [Mark(32, E), Mark(32, S), Mark(48, E), Mark(64, E)]) == [
        Note(60, 0, 8), Note(62, 28, 4, velocity=90), Note(62, 32, 4, velocity=90),
        Note(64, 40, 8), Note(64, 48, 16), Note(64, 64, 16)]
