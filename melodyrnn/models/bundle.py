"""Model bundles: what a trained model is shared as, and how checkpoints are read safely.

A bundle is a directory with two files:

- `model.safetensors`: the network's weights (safetensors: no code runs when loading);
- `bundle.json`: `format`, `format_version`, `melodyrnn_version`, `created`, `network` (the
  `NetworkConfig` options), `weights` (file name, sha256, parameter count), `tokenizer` (the
  dataset's tokenizer JSON), `dataset` (manifest and split sizes), `training` (checkpoint
  name, epoch, global step, training hyper-parameters) and `metrics` (best val loss and the
  last epoch's metrics).

`load_bundle` reads a bundle directory, its bundle.json, or a Lightning `.ckpt`; checkpoints
are opened with `torch.load(weights_only=True)`, which refuses pickled code. Importing this
module does not import Lightning.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from melodyrnn._files import atomic_write, atomic_write_text, read_json
from melodyrnn._version import __version__
from melodyrnn.errors import MelodyRNNError, ModelError, WriteError
from melodyrnn.models.network import MelodyLSTM, NetworkConfig

BUNDLE_FORMAT = "melodyrnn-bundle"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
META_FILE = "bundle.json"
NETWORK_KEYS = NetworkConfig.keys()
# Hyper-parameters that are not training options (stored elsewhere in the bundle, or internal).
_NOT_TRAINING = (*NETWORK_KEYS, "tokenizer", "dataset_info", "_instantiator", "_class_path")


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A Lightning checkpoint as a dict of tensors and plain values; never runs pickled code."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"checkpoint {path} does not exist")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any failure to unpickle means an unusable file, whatever the kind
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path} cannot be read as a melodyrnn checkpoint ({reason}); it may be "
                         "truncated, corrupt or not a checkpoint") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint \
            or "hyper_parameters" not in checkpoint:
        raise ModelError(f"{path} is not a Lightning checkpoint of melodyrnn (no state_dict or "
                         "hyper_parameters)")
    return checkpoint


def _network_from_checkpoint(checkpoint: dict[str, Any], path: Path) -> MelodyLSTM:
    hparams = checkpoint["hyper_parameters"]
    missing = [k for k in ("vocab_size",) if k not in hparams]
    if missing:
        raise ModelError(f"{path}: the checkpoint's hyper-parameters lack {', '.join(missing)}")
    options = {k: hparams[k] for k in NETWORK_KEYS if k in hparams}
    state = {k.removeprefix("net."): v for k, v in checkpoint["state_dict"].items()
             if k.startswith("net.")}
    return _build_network(options, state, path)


def _build_network(options: dict[str, Any], state: dict[str, Tensor], path: Path) -> MelodyLSTM:
    """A network with these options and weights, in eval mode; ModelError if they disagree."""
    try:
        network = MelodyLSTM(NetworkConfig(**options))
    except (MelodyRNNError, TypeError) as exc:
        raise ModelError(f"{path}: the stored network options cannot build a model ({exc})") \
            from None
    if network.config.tie_weights and "decoder.weight" not in state and "encoder.weight" in state:
        state = {**state, "decoder.weight": state["encoder.weight"]}
    try:
        network.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ModelError(f"{path}: the weights do not fit the stored network options ({first})") \
            from None
    return network.eval()


def _checkpoint_meta(checkpoint: dict[str, Any], path: Path) -> dict[str, Any]:
    """Provenance and metrics of a checkpoint, in the layout of bundle.json (less tokenizer)."""
    hparams = checkpoint["hyper_parameters"]
    metrics: dict[str, Any] = {}
    for key, state in (checkpoint.get("callbacks") or {}).items():
        if key.startswith("ModelCheckpoint") and isinstance(state, dict):
            score = state.get("best_model_score")
            if score is not None:
                metrics["best_" + str(state.get("monitor") or "score")] = float(score)
    metrics.update((checkpoint.get("melodyrnn") or {}).get("metrics", {}))
    return {
        "network": {k: hparams[k] for k in NETWORK_KEYS if k in hparams},
        "dataset": hparams.get("dataset_info") or {},
        "training": {
            "checkpoint": path.name, "epoch": checkpoint.get("epoch"),
            "global_step": checkpoint.get("global_step"),
            "hyper_parameters": {k: v for k, v in hparams.items() if k not in _NOT_TRAINING},
        },
        "metrics": metrics,
    }


def find_checkpoint(path: str | Path) -> Path:
    """The checkpoint a path names: a .ckpt file, or a run directory's best (else last) one."""
    path = Path(path)
    if path.is_file():
        return path
    folder = path / "checkpoints" if (path / "checkpoints").is_dir() else path
    if not folder.is_dir():
        raise ModelError(f"{path} is neither a checkpoint file nor a run directory")
    last = folder / "last.ckpt"
    if last.is_file():
        # last.ckpt remembers which checkpoint scored best
        for key, state in (read_checkpoint(last).get("callbacks") or {}).items():
            best = state.get("best_model_path") if key.startswith("ModelCheckpoint") else None
            for candidate in ((folder / Path(best).name, Path(best)) if best else ()):
                if candidate.is_file():
                    return candidate
        return last
    best = sorted(folder.glob("*.ckpt"), key=lambda p: p.stat().st_mtime)
    if best:
        return best[-1]
    raise ModelError(f"{path} holds no checkpoint (*.ckpt)")


def export_bundle(ckpt_path: str | Path, out_dir: str | Path, overwrite: bool = False) -> Path:
    """Write a bundle (model.safetensors + bundle.json) from a checkpoint or run directory."""
    from safetensors.torch import save_file

    path = find_checkpoint(ckpt_path)
    checkpoint = read_checkpoint(path)
    network = _network_from_checkpoint(checkpoint, path)
    tokenizer = checkpoint["hyper_parameters"].get("tokenizer")
    if not tokenizer:
        raise ModelError(f"{path} carries no tokenizer; train it with `melodyrnn fit` so the "
                         "dataset's tokenizer is stored in the checkpoint")
    out_dir = Path(out_dir)
    if (out_dir / META_FILE).exists() and not overwrite:
        raise WriteError(f"{out_dir / META_FILE} exists; pass --force to overwrite it")
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in network.state_dict().items()}
    if network.config.tie_weights:
        del state["decoder.weight"]  # the same tensor as encoder.weight; safetensors wants one
    weights = atomic_write(out_dir / WEIGHTS_FILE, lambda tmp: save_file(
        state, str(tmp), metadata={"format": BUNDLE_FORMAT}))
    meta = {"format": BUNDLE_FORMAT, "format_version": FORMAT_VERSION,
            "melodyrnn_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **_checkpoint_meta(checkpoint, path)}
    meta["network"] = network.options()
    meta["weights"] = {"file": WEIGHTS_FILE, "sha256": _sha256(weights),
                       "parameters": sum(p.numel() for p in network.parameters())}
    meta["tokenizer"] = tokenizer
    atomic_write_text(out_dir / META_FILE, json.dumps(meta, indent=2, default=str) + "\n")
    return out_dir


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_bundle_json(path: Path) -> dict[str, Any]:
    meta = read_json(path, ModelError, "the bundle description", "export the bundle again")
    if not isinstance(meta, dict) or meta.get("format") != BUNDLE_FORMAT:
        raise ModelError(f"{path} is not a melodyrnn bundle (format is not '{BUNDLE_FORMAT}')")
    if not isinstance(meta.get("format_version"), int) or meta["format_version"] > FORMAT_VERSION:
        raise ModelError(f"{path} has bundle format_version {meta.get('format_version')!r}; this "
                         f"melodyrnn reads up to {FORMAT_VERSION}, so upgrade melodyrnn")
    for key in ("network", "tokenizer", "weights"):
        if not isinstance(meta.get(key), dict):
            raise ModelError(f"{path} lacks its '{key}' section")
    return meta


def _load_bundle_dir(folder: Path) -> tuple[MelodyLSTM, dict[str, Any], dict[str, Any]]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    meta_path = folder / META_FILE
    if not meta_path.is_file():
        raise ModelError(f"{folder} is not a model bundle: {META_FILE} is missing")
    meta = _read_bundle_json(meta_path)
    weights_path = folder / str(meta["weights"].get("file", WEIGHTS_FILE))
    if not weights_path.is_file():
        raise ModelError(f"{weights_path} is missing; the bundle is incomplete")
    expected = meta["weights"].get("sha256")
    if expected and _sha256(weights_path) != expected:
        raise ModelError(f"{weights_path} does not match the sha256 in {meta_path}; the file was "
                         "changed or truncated, so export the bundle again")
    try:
        state = load_file(str(weights_path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{weights_path} cannot be read as safetensors ({exc})") from None
    network = _build_network(meta["network"], state, weights_path)
    tokenizer = meta.pop("tokenizer")
    return network, tokenizer, meta


def load_bundle(path: str | Path) -> tuple[MelodyLSTM, dict[str, Any], dict[str, Any]]:
    """(network in eval mode on CPU, tokenizer JSON, metadata) from a bundle or a checkpoint.

    `path` is a bundle directory, its bundle.json or model.safetensors, a `.ckpt` file, or a
    run directory (its best checkpoint). The metadata has bundle.json's keys except tokenizer.
    """
    path = Path(path)
    if path.is_file() and path.name in (META_FILE, WEIGHTS_FILE):
        path = path.parent
    if path.is_dir() and (path / META_FILE).exists():
        return _load_bundle_dir(path)
    if not path.exists():
        raise ModelError(f"model {path} does not exist")
    ckpt = find_checkpoint(path)
    checkpoint = read_checkpoint(ckpt)
    network = _network_from_checkpoint(checkpoint, ckpt)
    tokenizer = checkpoint["hyper_parameters"].get("tokenizer")
    if not tokenizer:
        raise ModelError(f"{ckpt} carries no tokenizer, so it cannot be used to sample")
    meta = {"format": "lightning-checkpoint", **_checkpoint_meta(checkpoint, ckpt)}
    meta["network"] = network.options()
    return network, tokenizer, meta


def load_weights_into(network: MelodyLSTM, path: str | Path,
                      tokenizer: dict[str, Any] | None = None) -> None:
    """Copy the weights of a bundle or checkpoint into `network` (fine-tuning); the vocabulary
    and the architecture must match."""
    source, source_tokenizer, _ = load_bundle(path)
    if tokenizer and source_tokenizer.get("vocab") != tokenizer.get("vocab"):
        raise ModelError(f"{path} was trained on a different vocabulary "
                         f"({len(source_tokenizer.get('vocab', []))} tokens, tokenizer "
                         f"'{source_tokenizer.get('name')}') than this dataset's "
                         f"({len(tokenizer.get('vocab', []))} tokens, '{tokenizer.get('name')}'); "
                         "prepare the dataset with the same tokenizer")
    # every option, those left out of `options()` at their defaults too
    ours, theirs = dataclasses.asdict(network.config), dataclasses.asdict(source.config)
    differ = [f"{k} {theirs[k]} vs {ours[k]}" for k in NETWORK_KEYS
              if k != "dropout" and theirs.get(k) != ours.get(k)]
    if differ:
        raise ModelError(f"{path} has a different network ({'; '.join(differ)}); set the "
                         "model options to match it")
    with torch.no_grad():
        network.load_state_dict(source.state_dict())
