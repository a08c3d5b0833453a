"""Floating-point operations a `MelodyLSTM` does per token, counted from its options.

Model FLOP utilisation (MFU, PaLM's measure) is achieved FLOP/s over the chip's peak, where the
FLOPs are the model's own: the matrix products its options imply, counted analytically, not
what a kernel happens to execute. A multiply-add is two FLOPs. Per token and layer, a cell with
g gate blocks (LSTM 4, GRU 3, tanh RNN 1) multiplies its input (width `in`) and its previous
hidden state (width H) by g*H weights each: 2*g*(in + H)*H. The decoder costs 2*H*V; window
attention costs its query and combine projections (2*H*H + 2*2H*H) and the scores and the sum
over `window` past outputs (2 * 2*window*H). An embedding lookup is free; one-hot inputs are
counted as the dense product they stand for. Elementwise gate arithmetic and the softmax are
left out, as MFU conventionally leaves them out. Training is three times the forward: the
backward pass costs two forwards (gradients of inputs and of weights).
"""

from __future__ import annotations

from melodyrnn.models.network import LOOKBACK_EMBEDDING_DIM, POSITION_EMBEDDING_DIM, NetworkConfig

GATES = {"lstm": 4, "gru": 3, "rnn": 1}

# Dense peaks (no sparsity) in TFLOP/s, from the makers' data sheets, by chip and precision.
# "32-true" is the TF32 tensor-core peak: cuDNN runs float32 RNNs and matrix products on TF32
# by default (torch.backends.cudnn.allow_tf32), so plain float32's peak would overstate MFU.
PEAK_TFLOPS = {
    ("h200", "bf16-mixed"): 989.0, ("h200", "32-true"): 494.7,
    ("h100", "bf16-mixed"): 989.0, ("h100", "32-true"): 494.7,
    ("a100", "bf16-mixed"): 312.0, ("a100", "32-true"): 156.0,
}


def input_width(config: NetworkConfig) -> int:
    """The width of the first recurrent layer's input, as `MelodyLSTM` builds it."""
    width = config.embedding_dim if config.input == "embedding" else config.vocab_size
    if config.lookback:
        width += 2 * LOOKBACK_EMBEDDING_DIM + POSITION_EMBEDDING_DIM + 2
    return width


def flops_per_token(config: NetworkConfig, training: bool = False) -> int:
    """The model FLOPs of one token: a forward step, or (`training`) forward and backward."""
    gates, hidden = GATES[config.cell], config.hidden_size
    total = 0
    width = input_width(config)
    for _ in range(config.num_layers):
        total += 2 * gates * (width + hidden) * hidden
        width = hidden
    if config.attention:
        total += 2 * hidden * hidden + 2 * 2 * hidden * hidden + 2 * 2 * config.attention * hidden
    total += 2 * hidden * config.vocab_size
    return 3 * total if training else total


def peak_tflops(device_name: str, precision: str) -> float | None:
    """The data-sheet dense peak of a CUDA device (by the name torch gives it), or None."""
    name = device_name.lower()
    for (chip, prec), peak in PEAK_TFLOPS.items():
        if chip in name and prec == precision:
            return peak
    return None


def mfu(tokens_per_second: float, config: NetworkConfig, peak: float,
        training: bool = False) -> float:
    """Model FLOP utilisation: achieved model FLOP/s over `peak` TFLOP/s."""
    return tokens_per_second * flops_per_token(config, training) / (peak * 1e12)
