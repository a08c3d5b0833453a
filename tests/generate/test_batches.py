"""Generation in batches: the same tunes as one batch when they fit, distinct seeds per batch,
a prefix read in bounded chunks, and primers and counts refused over their limits before the
network runs."""

from __future__ import annotations

import pytest
import torch

import melodyrnn as mr
from melodyrnn.core.melody import Melody, Note
from melodyrnn.core.meter import steps_per_bar
from melodyrnn.errors import ConfigError
from melodyrnn.generate.model import batch_seed, check_num
from melodyrnn.generate.prime import read_prefix
from melodyrnn.generate.sample import sample_ids
from melodyrnn.generate.settings import SampleSettings
from melodyrnn.models.network import MelodyLSTM


@pytest.fixture(scope="module")
def model(tiny_model):
    return mr.load_model(tiny_model)


def _ids(melodies: list[Melody], model) -> list[list[int]]:
    return [model.tokenizer.encode(m) for m in melodies]


@pytest.mark.slow
def test_a_run_that_fits_one_batch_samples_as_one_call(model):
    """Up to a batch, `generate` draws exactly what one `sample_ids` call with the seed does."""
    prefix = model.prefix(None, "4/4", None, seed=9)
    settings = SampleSettings(notes=12, max_tokens=200)
    spb = steps_per_bar((4, 4), model.tokenizer.steps_per_quarter)
    direct = sample_ids(model.network, model.tokenizer, prefix, 3, settings, seed=9,
                        steps_per_bar=spb)
    made = model.generate(num=3, notes=12, seed=9, meter="4/4", max_tokens=200)
    assert [model.tokenizer.decode(ids).notes for ids in direct] == [m.notes for m in made]


@pytest.mark.slow
def test_batches_have_their_own_seeds_and_repeat_with_the_seed(model):
    batches = list(model.generate_batches(5, notes=10, seed=4, batch_size=2))
    assert [len(b) for b in batches] == [2, 2, 1]
    first, second = batches[0], batches[1]
    assert [m.notes for m in first] == [m.notes for m in model.generate(num=2, notes=10,
                                                                          seed=4)]
    assert [m.notes for m in first] != [m.notes for m in second]  # not the same draws again
    again = model.generate(num=5, notes=10, seed=4, batch_size=2)
    assert [m.notes for b in batches for m in b] == [m.notes for m in again]
    assert [m.source for m in again] == [f"generated:4:{i}" for i in range(5)]


@pytest.mark.slow
def test_beam_batches_count_rows(model):
    """With beam search a batch holds batch_size // beam melodies."""
    batches = list(model.generate_batches(3, notes=6, seed=1, beam=2, batch_size=4))
    assert [len(b) for b in batches] == [2, 1]


def test_batch_seeds_differ_from_each_other_and_from_typed_seeds():
    seeds = {batch_seed(s, b) for s in range(20) for b in range(1, 50)}
    assert len(seeds) == 20 * 49 and not seeds & set(range(1_000_000))
    assert batch_seed(None, 3) == batch_seed(0, 3) and 0 <= batch_seed(7, 1) < 2**63


@pytest.mark.parametrize("attention", [0, 4], ids=["lstm", "attention"])
def test_prefix_in_chunks_matches_the_prefix_at_once(attention):
    torch.manual_seed(0)
    net = MelodyLSTM(20, embedding_dim=8, hidden_size=12, num_layers=2, dropout=0.0,
                     attention=attention).eval()
    ids = torch.randint(1, 20, (3, 23))
    with torch.no_grad():
        whole, _ = net(ids, None, None)
        at_once, _ = read_prefix(net, ids, None, chunk=23)
        chunked, state = read_prefix(net, ids, None, chunk=5)
        after, _ = net(ids[:, -1:], state, None)
        reference, _ = net(torch.cat([ids, ids[:, -1:]], dim=1), None, None)
    assert torch.equal(at_once, whole[:, -1])  # one chunk: the very same forward
    assert torch.allclose(chunked, whole[:, -1], atol=1e-5)
    assert torch.allclose(after[:, -1], reference[:, -1], atol=1e-5)  # the state carries on


def test_primer_over_the_limit_is_refused_before_the_network_runs(monkeypatch, tmp_path):
    model = mr.load_model()

    class Untouchable(torch.nn.Module):
        def forward(self, *args: object) -> None:
            raise AssertionError("the network ran")

    monkeypatch.setattr(model, "network", Untouchable())
    monkeypatch.setenv("MELODYRNN_MAX_PRIMER_NOTES", "4")
    sentence = (r"^the primer{} has 5 notes, over the limit of 4 \(notes in a primer\); set "
                r"MELODYRNN_MAX_PRIMER_NOTES to allow more, or give the opening few bars only$")
    with pytest.raises(ConfigError, match=sentence.format("")):
        model.generate(primer="C4 D4 E4 F4 G4", meter="4/4")
    melody = Melody([Note(60 + i, 24 * i, 24) for i in range(5)], steps_per_quarter=24)
    with pytest.raises(ConfigError, match=sentence.format("")):
        model.generate(primer=melody, meter="4/4", key="C:major")
    path = melody.write(tmp_path / "long.mid")
    with pytest.raises(ConfigError, match=sentence.format(" " + str(path).replace(".", r"\."))):
        model.generate(primer=str(path))


def test_huge_primer_text_is_refused_without_parsing_it(monkeypatch):
    model = mr.load_model()
    monkeypatch.setattr("melodyrnn.generate.model.parse_primer",
                        lambda *a: pytest.fail("parsed"))
    with pytest.raises(ConfigError, match="the primer has 1,000,000 notes, over the limit"):
        model.generate(primer="C4 " * 1_000_000)


@pytest.mark.parametrize("num", [0, -1, 2.5, True, "3"])
def test_num_must_be_a_whole_number_of_at_least_one(num):
    with pytest.raises(ConfigError, match="must be a whole number of at least 1"):
        check_num(num)


def test_num_over_the_limit(monkeypatch):
    monkeypatch.setenv("MELODYRNN_MAX_NUM", "100")
    assert check_num(100) == 100
    with pytest.raises(ConfigError, match=r"^num 101 is over the limit of 100 \(tunes one "
                                          r"`generate` writes\); ask for fewer or set "
                                          r"MELODYRNN_MAX_NUM to allow more$"):
        check_num(101)


@pytest.mark.parametrize(("options", "message"), [
    (dict(beam=1000, branch=8), r"^beam 1,000 x branch 8 makes 8,000 candidates a step, over "
                                r"the 4,096 allowed; use a smaller --beam or --branch$"),
    (dict(seconds=float("inf")), r"^seconds inf must be above 0 and finite$"),
    (dict(qpm=float("nan")), r"^qpm nan must be above 0 and finite$"),
    (dict(temperature=float("inf")), r"^temperature inf must be 0 or more and finite"),
], ids=["beam", "seconds", "qpm", "temperature"])
def test_settings_that_would_eat_the_machine_are_refused(options, message):
    with pytest.raises(ConfigError, match=message):
        SampleSettings(**options)


@pytest.mark.parametrize(("options", "message"), [
    (dict(notes=101), r"^notes 101 is over the limit of 100 notes \(notes in one melody or one "
                      r"track\); ask for less or set MELODYRNN_MAX_MELODY_NOTES to allow more$"),
    (dict(bars=3), r"^bars 3 \(48 steps\) is over the limit of 40 steps"),
    (dict(seconds=6.0), r"^seconds 6 \(48 steps\) is over the limit of 40 steps"),
], ids=["notes", "bars", "seconds"])
def test_lengths_longer_than_a_melody_may_be_are_refused(monkeypatch, options, message):
    monkeypatch.setenv("MELODYRNN_MAX_MELODY_NOTES", "100")
    monkeypatch.setenv("MELODYRNN_MAX_MELODY_STEPS", "40")
    SampleSettings(notes=100, bars=2).check_length(4, 16)  # 32 steps: within the limits
    with pytest.raises(ConfigError, match=message):
        SampleSettings(**options).check_length(4, 16)  # 120 qpm, 4 steps a quarter
