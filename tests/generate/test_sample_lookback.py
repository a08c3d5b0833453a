"""Sampling from a network with lookback inputs and attention: clean melodies by every
strategy, the features the sampler feeds, and beams that reorder the attention window."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import melodyrnn as mr
from melodyrnn.generate.beam import _reorder
from melodyrnn.generate.sample import sample_ids
from melodyrnn.generate.settings import SampleSettings
from melodyrnn.models.attention import AttentionState
from melodyrnn.models.lookback import stream_features


@pytest.fixture(scope="module")
def model(lookback_model):
    return mr.load_model(lookback_model)


class Recorder(torch.nn.Module):
    """A network that remembers every (ids, lookback) it was given."""

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network, self.config, self.calls = network, network.config, []

    def forward(self, ids, state=None, lookback=None):
        self.calls.append((ids.clone(), None if lookback is None else lookback.clone()))
        return self.network(ids, state, lookback)


def test_generate_by_sampling_and_by_beam(model, clean_decode):
    assert "+lookback+attention 6" in repr(model)
    for kwargs in ({"temperature": 1.0}, {"beam": 3, "branch": 2}, {"temperature": 0}):
        melodies = model.generate(num=2, notes=8, meter="6/8", seed=1, **kwargs)
        assert [len(m) for m in melodies] == [8, 8]
        assert all(clean_decode(model, m) == 0 for m in melodies)
    primed = model.generate(num=1, notes=6, primer="E4 F4 G4:2", seed=0)[0]
    assert primed.pitches[:3] == [64, 65, 67]


def test_the_sampler_feeds_each_row_the_features_of_its_own_tokens(model):
    recorder = Recorder(model.network)
    tok = model.tokenizer
    prefix = tok.encode_prefix("4/4")
    settings = SampleSettings(temperature=1.5, max_tokens=30)
    seqs = sample_ids(recorder, tok, prefix, 3, settings, seed=2)
    ids = torch.cat([call[0] for call in recorder.calls], dim=1)  # (3, fed tokens)
    fed = torch.cat([call[1] for call in recorder.calls], dim=1)  # (3, fed tokens, 5)
    for row, seq in enumerate(seqs):
        n = min(len(seq), ids.size(1))
        assert ids[row, :n].tolist() == seq[:n]
        expected = stream_features(tok, seq[:n]).astype(np.int64)
        assert fed[row, :n].tolist() == expected.tolist()


def test_beams_reorder_the_attention_window_with_the_state(model):
    _, state = model.network(torch.ones(3, 4, dtype=torch.long), None,
                             torch.zeros(3, 4, 5, dtype=torch.long))
    assert isinstance(state, AttentionState)
    picked = _reorder(state, torch.tensor([2, 0, 0]))
    assert torch.equal(picked.memory[0], state.memory[2])
    assert torch.equal(picked.rnn[1][:, 1], state.rnn[1][:, 0])  # the LSTM's c
    assert torch.equal(picked.filled, state.filled[[2, 0, 0]])
