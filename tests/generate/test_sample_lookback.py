"""Sampling from a network with lookback inputs and attention: clean melodies by every
strategy, the features the sampler feeds, and beams that reorder the attention window."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import melodyrnn as mr
from melodyrnn.generate.beam import select_rows
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
    # the prefix goes to every row at once, then one token a call to the rows still going
    # (a row that ended has left the batch), in their order
    fed_ids: list[list[int]] = [call_ids.tolist() for call_ids in recorder.calls[0][0]]
    fed: list[list[list[int]]] = [f.tolist() for f in recorder.calls[0][1]]
    for call_ids, features in recorder.calls[1:]:
        going = [r for r, seq in enumerate(seqs)
                 if len(fed_ids[r]) < len(seq) and seq[len(fed_ids[r])] != tok.eos_id]
        assert len(going) == call_ids.size(0)
        for row, token, feature in zip(going, call_ids[:, 0].tolist(), features[:, 0].tolist(),
                                       strict=True):
            fed_ids[row].append(token)
            fed[row].append(feature)
    for row, seq in enumerate(seqs):
        n = len(fed_ids[row])
        assert fed_ids[row] == seq[:n]
        assert n >= len(seq) - 2  # all but the last token (EOS, or the cap's last draw)
        expected = stream_features(tok, seq[:n]).astype(np.int64)
        assert fed[row] == expected.tolist()


def test_beams_reorder_the_attention_window_with_the_state(model):
    _, state = model.network(torch.ones(3, 4, dtype=torch.long), None,
                             torch.zeros(3, 4, 5, dtype=torch.long))
    assert isinstance(state, AttentionState)
    picked = select_rows(state, torch.tensor([2, 0, 0]))
    assert torch.equal(picked.memory[0], state.memory[2])
    assert torch.equal(picked.rnn[1][:, 1], state.rnn[1][:, 0])  # the LSTM's c
    assert torch.equal(picked.filled, state.filled[[2, 0, 0]])
