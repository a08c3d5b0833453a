"""Weights as untrusted input: tensors checked against the network they must fill.

A bundle's model.safetensors or a checkpoint's state_dict must hold exactly the tensors a
`MelodyLSTM` of the stored options has, each of its shape, floating-point and finite. The
shapes are read from the safetensors header and compared before any tensor is loaded, and
the file's size is bounded by the parameter count first, so a tampered file cannot make
melodyrnn allocate more than the options ask for.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from melodyrnn.errors import ModelError
from melodyrnn.models.network import MelodyLSTM, NetworkConfig

# Room for a safetensors header beyond the tensors themselves: ours is a few kB.
HEADER_BYTES = 16 * 2**20
# The widest floating-point type a tensor may be stored in (float64).
MAX_BYTES_PER_PARAMETER = 8
_FLOAT_DTYPES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}


def expected_shapes(config: NetworkConfig) -> dict[str, tuple[int, ...]]:
    """The name and shape of every tensor in a `MelodyLSTM(config)`'s state dict.

    Built on the meta device, which allocates no memory, from options already checked
    against `max_parameters`.
    """
    with torch.device("meta"):
        network = MelodyLSTM(config)
    return {name: tuple(t.shape) for name, t in network.state_dict().items()}


def stored_shapes(config: NetworkConfig) -> dict[str, tuple[int, ...]]:
    """`expected_shapes` less the decoder weight of a tied network, which bundles leave out."""
    shapes = expected_shapes(config)
    if config.tie_weights:
        del shapes["decoder.weight"]
    return shapes


def check_shapes(found: Mapping[str, tuple[int, ...]], wanted: Mapping[str, tuple[int, ...]],
                 where: Path) -> None:
    """ModelError naming the first tensor missing, unexpected or of the wrong shape."""
    missing = [name for name in wanted if name not in found]
    if missing:
        raise ModelError(f"{where}: the weights lack tensor '{missing[0]}' that the network "
                         "options need; the weights and the options disagree")
    extra = [name for name in found if name not in wanted]
    if extra:
        raise ModelError(f"{where}: the weights hold tensor '{str(extra[0])[:80]}', which a "
                         "network of the stored options does not have")
    for name, shape in wanted.items():
        if tuple(found[name]) != shape:
            raise ModelError(f"{where}: tensor '{name}' has shape {tuple(found[name])} but the "
                             f"stored network options need {shape}; the weights do not fit "
                             "the options")


def check_values(state: Mapping[str, Tensor], where: Path) -> None:
    """ModelError naming the first tensor that is not floating point or not finite."""
    for name, tensor in state.items():
        if not tensor.is_floating_point():
            raise ModelError(f"{where}: tensor '{name}' holds {tensor.dtype} values, not "
                             "floating-point weights")
        if not bool(torch.isfinite(tensor).all()):
            raise ModelError(f"{where}: tensor '{name}' holds NaN or infinite values, so the "
                             "model cannot sample; train it again or use another model")


def check_state(state: Any, config: NetworkConfig, where: Path) -> dict[str, Tensor]:
    """A checkpoint's network tensors checked against `config` (tied decoder filled in)."""
    if not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()):
        raise ModelError(f"{where}: the state_dict holds entries that are not named tensors")
    state = dict(state)
    if config.tie_weights and "decoder.weight" not in state and "encoder.weight" in state:
        state["decoder.weight"] = state["encoder.weight"]
    check_shapes({k: tuple(v.shape) for k, v in state.items()}, expected_shapes(config), where)
    check_values(state, where)
    return state


def check_file_size(path: Path, config: NetworkConfig) -> None:
    """Refuse a weights file larger than any the options' parameters could fill."""
    size, most = path.stat().st_size, \
        config.parameter_count() * MAX_BYTES_PER_PARAMETER + HEADER_BYTES
    if size > most:
        raise ModelError(f"{path} is {size:,} bytes, more than the {most:,} that the weights "
                         "of the stored network options can take; it is not this bundle's "
                         "weights file")


def read_safetensors(path: Path, config: NetworkConfig) -> dict[str, Tensor]:
    """The tensors of a bundle's weights file, checked header first, then values."""
    from safetensors import SafetensorError, safe_open

    wanted = stored_shapes(config)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as weights:
            found, dtypes = {}, {}
            for name in weights.keys():  # noqa: SIM118 (a safetensors handle, not a dict)
                piece = weights.get_slice(name)
                found[name], dtypes[name] = tuple(piece.get_shape()), piece.get_dtype()
            check_shapes(found, wanted, path)
            odd = [name for name, dtype in dtypes.items() if dtype not in _FLOAT_DTYPES]
            if odd:
                raise ModelError(f"{path}: tensor '{odd[0]}' holds {dtypes[odd[0]]} values, "
                                 "not floating-point weights")
            state = {name: weights.get_tensor(name) for name in wanted}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path} cannot be read as safetensors ({first})") from None
    check_values(state, path)
    if config.tie_weights:
        state["decoder.weight"] = state["encoder.weight"]
    return state


def build_network(config: NetworkConfig, state: Mapping[str, Tensor], where: Path) -> MelodyLSTM:
    """A network of `config` holding `state` (already checked), in eval mode."""
    network = MelodyLSTM(config)
    try:
        network.load_state_dict(state)
    except RuntimeError as exc:  # checked above, so only a torch change could bring this
        raise ModelError(f"{where}: the weights do not fit the stored network options "
                         f"({str(exc).strip().splitlines()[-1].strip()})") from None
    return network.eval()
