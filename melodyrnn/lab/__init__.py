"""`melodyrnn lab`: the lessons of a course on recurrent networks, measured on melodies.

Each experiment trains small networks on a prepared dataset (by default essen-kinder, built
from music21's corpus on first use), writes PNG plots and a JSON of every number into its
folder, and says in a few sentences what the numbers show:

- `gradients` (`lab/gradients.py`): how the gradient of the loss at step n with respect to the
  state at step n - k shrinks with k, for tanh RNN, GRU and LSTM, with the singular values of
  the recurrent weights;
- `clipping` (`lab/clipping.py`): training at a learning rate that blows up, without
  clipping, clipped by norm and clipped by value;
- `tbptt` (`lab/tbptt.py`): truncated backpropagation through time, TBPTT(k1, k2);
- `memory` (`lab/memory.py`, probes in `lab/probes.py`): how far back each cell's state still
  holds the notes;
- `inputs` (`lab/inputs.py`, `lab/chars.py`): one-hot against embedding input, and a
  character-level model of the same tunes written as ABC text.

`lab all` (`lab/suite.py`) runs them in turn and writes `report.html` (`lab/report.py`). The
networks are the package's own (`models/network.py`); the lab trains them with a short loop of
its own (`lab/train.py`: the same loss, clipping and truncated BPTT as `fit`) so that it can
record every update.
"""
