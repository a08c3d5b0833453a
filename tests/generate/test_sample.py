"""Sampling and generation: strategies, primers, constraints, conditioning, seeds, beam search."""

from __future__ import annotations

import pytest
import torch

import melodyrnn as mr
from melodyrnn.errors import ConfigError
from melodyrnn.generate.sample import filter_top_k, filter_top_p
from melodyrnn.io.inputs.text import parse_primer


@pytest.fixture(scope="module")
def model(tiny_model):
    return mr.load_model(tiny_model)


def test_top_k_and_top_p_filters():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isinf(filter_top_k(logits, 2)[0, 2:]).all()
    assert not torch.isinf(filter_top_k(logits, 2)[0, :2]).any()
    kept = ~torch.isinf(filter_top_p(logits, 0.75))
    assert kept.tolist() == [[True, True, False, False]]  # 0.5 + 0.3 reaches 0.75
    assert (~torch.isinf(filter_top_p(logits, 0.5))).sum() == 1


@pytest.mark.slow
def test_generate_lengths_and_clean_sequences(model, clean_decode):
    for kwargs in ({"bars": 4}, {"notes": 12}, {"seconds": 6.0}):
        melodies = model.generate(num=3, seed=1, **kwargs)
        assert len(melodies) == 3
        for m in melodies:
            assert clean_decode(model, m) == 0
            if "notes" in kwargs:
                assert len(m) == 12
            spb = m.steps_per_bar
            # the last bar is full, or completes the pickup
            assert m.end_step % spb == 0 or (m.end_step - m.start_step) % spb == 0
            if "bars" in kwargs:
                assert m.end_step - m.start_step == 4 * spb
            if "seconds" in kwargs:  # the first whole bar that lasts the seconds
                assert 6.0 <= m.seconds < 6.0 + spb * m.step_seconds


@pytest.mark.slow
def test_same_seed_same_melodies_other_seed_differs(model):
    a = model.generate(num=2, bars=4, seed=3, temperature=1.2)
    assert a == model.generate(num=2, bars=4, seed=3, temperature=1.2)
    assert a != model.generate(num=2, bars=4, seed=4, temperature=1.2)


@pytest.mark.slow
def test_greedy_ignores_the_seed(model):
    a = model.generate(num=1, notes=10, temperature=0, seed=1)
    assert a[0].notes == model.generate(num=1, notes=10, temperature=0, seed=2)[0].notes


@pytest.mark.slow
def test_primer_opens_every_melody(model):
    for m in model.generate(num=3, notes=10, primer="E4 F4 G4:2", seed=0):
        assert m.pitches[:3] == [64, 65, 67]
        assert [n.duration_steps for n in m.notes[:3]] == [4, 4, 8]


@pytest.mark.slow
def test_primer_file(model, tmp_path):
    parse_primer("A4 B4 C5").write(tmp_path / "p.mid")
    m = model.generate(num=1, notes=6, primer=str(tmp_path / "p.mid"), seed=0)[0]
    assert m.pitches[:3] == [69, 71, 72]


@pytest.mark.slow
def test_scale_and_range_constraints_hold(model):
    melodies = model.generate(num=4, notes=24, scale="D:dorian", pitch_range="D4:D5",
                              temperature=1.5, seed=0)
    dorian = mr.Key.parse("D:dorian").pitch_classes
    for m in melodies:
        assert all(62 <= p <= 74 and p % 12 in dorian for p in m.pitches)


@pytest.mark.slow
def test_meter_and_key_conditioning(model, clean_decode):
    for m in model.generate(num=2, bars=3, meter="3/4", key="G:major", seed=0):
        assert m.time_signature == (3, 4)
        assert str(m.key) == "G:major"
        assert m.end_step >= 3 * 12
        assert clean_decode(model, m) == 0


@pytest.mark.slow
def test_beam_search_finds_likelier_melodies_than_sampling(model, clean_decode):
    beam = model.generate(num=1, notes=8, temperature=1.0, beam=8, branch=3, seed=0)[0]
    assert len(beam) == 8 and clean_decode(model, beam) == 0
    sampled = [model.score(m).log_likelihood
               for m in model.generate(num=9, notes=8, temperature=1.0, seed=0)]
    assert model.score(beam).log_likelihood > sorted(sampled)[4]  # above the median sample


@pytest.mark.slow
def test_bad_settings_are_one_sentence_errors(model):
    for kwargs, needle in (({"temperature": -1}, "temperature"), ({"top_p": 0}, "top_p"),
                           ({"top_k": 0}, "top_k"), ({"num": 0}, "num"),
                           ({"scale": "C:major", "pitch_range": (61, 61)}, "no pitch")):
        with pytest.raises(ConfigError, match=needle):
            model.generate(**kwargs)
