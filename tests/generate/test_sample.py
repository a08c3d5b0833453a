"""Sampling and generation: strategies, the draw, primers, constraints, conditioning, seeds,
rows leaving the batch, beam search."""

from __future__ import annotations

import math

import pytest
import torch

import melodyrnn as mr
from melodyrnn.errors import ConfigError
from melodyrnn.generate.draw import draw, filter_top_k, filter_top_p
from melodyrnn.generate.sample import sample_ids
from melodyrnn.generate.settings import SampleSettings
from melodyrnn.io.inputs.text import parse_primer
from melodyrnn.models.network import MelodyLSTM
from melodyrnn.tokenizers import get_tokenizer


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


@pytest.mark.parametrize("options", [{}, {"temperature": 0.7}, {"top_k": 3}, {"top_p": 0.8}],
                         ids=["plain", "temperature", "top-k", "top-p"])
def test_the_draw_follows_the_distribution(options):
    """Chi-square of 40,000 draws against the probabilities they come from (fixed seed)."""
    settings = SampleSettings(**options)
    logits = torch.log(torch.tensor([0.3, 0.2, 0.15, 0.12, 0.1, 0.08, 0.05, 0.0, 0.0]))
    rows = 40_000
    generator = torch.Generator().manual_seed(0)
    drawn = draw(logits.expand(rows, -1), settings, torch.rand(rows, generator=generator))
    scaled = logits / settings.temperature
    if settings.top_k is not None:
        scaled = filter_top_k(scaled[None], settings.top_k)[0]
    if settings.top_p is not None:
        scaled = filter_top_p(scaled[None], settings.top_p)[0]
    probs = torch.softmax(scaled, dim=-1).double()
    counts = torch.bincount(drawn, minlength=len(probs)).double()
    assert counts[probs == 0].sum() == 0  # never an id of probability 0 (masked or cut)
    kept = probs > 0
    expected = probs[kept] * rows
    chi2 = float(((counts[kept] - expected) ** 2 / expected).sum())
    # 99.9th percentile of chi-square with (kept - 1) degrees of freedom, at most 6
    assert chi2 < {1: 10.8, 2: 13.8, 3: 16.3, 4: 18.5, 5: 20.5, 6: 22.5}[int(kept.sum()) - 1]


def test_the_draw_never_takes_a_masked_id_at_the_top_of_the_range():
    """A uniform just below 1 still lands on the last id of probability above 0."""
    logits = torch.tensor([[0.0, 1.0, -math.inf, -math.inf]]).expand(3, -1)
    uniforms = torch.tensor([0.0, 0.5, 1.0 - 2.0**-24])
    assert draw(logits, SampleSettings(), uniforms).tolist() == [0, 1, 1]


class _Counting(torch.nn.Module):
    """A network that ends a tune soon (EOS made likely) and counts the rows it computes."""

    def __init__(self, vocab_size: int, eos_id: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.network = MelodyLSTM(vocab_size, embedding_dim=8, hidden_size=16, num_layers=1,
                                  dropout=0.0).eval()
        with torch.no_grad():
            self.network.decoder.bias[eos_id] = 3.0
        self.rows: list[int] = []

    def forward(self, ids, state=None, lookback=None):
        self.rows.append(ids.size(0))
        return self.network(ids, state, lookback)


def test_rows_that_end_leave_the_batch_and_results_keep_their_order():
    tok = get_tokenizer("note", pitch_range=(55, 79), bar_tokens=True, meter_token=True)
    network = _Counting(tok.vocab_size, tok.eos_id)
    settings = SampleSettings(max_tokens=120)
    seqs = sample_ids(network, tok, [tok.bos_id], 8, settings, seed=5)
    assert network.rows[0] == 8 and network.rows[-1] < 8  # the batch shrank as rows ended
    assert network.rows == sorted(network.rows, reverse=True)
    assert len({len(s) for s in seqs}) > 1  # they ended at different lengths
    for seq in seqs:
        assert tok.grammar_state(seq).phase == "end"
    # each melody draws from its own numbers: the first two are the same in a batch of two
    assert sample_ids(network.network, tok, [tok.bos_id], 2, settings, seed=5) == seqs[:2]


def test_the_same_seed_writes_the_same_files(tmp_path):
    model = mr.load_model()
    written = []
    for run in ("a", "b"):
        melodies = model.generate(num=3, bars=2, seed=11, temperature=1.1)
        written.append([m.write(tmp_path / f"{run}{i}.mid").read_bytes()
                        for i, m in enumerate(melodies)])
    assert written[0] == written[1]
    other = model.generate(num=3, bars=2, seed=12, temperature=1.1)
    assert [m.notes for m in other] != [m.notes for m in model.generate(num=3, bars=2, seed=11,
                                                                          temperature=1.1)]
