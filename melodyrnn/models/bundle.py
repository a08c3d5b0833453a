"""Model bundles: what a trained model is shared as, and how checkpoints are read safely.

A bundle is a directory with two files:

- `model.safetensors`: the network's weights (safetensors: no code runs when loading);
- `bundle.json`: `format`, `format_version`, `melodyrnn_version`, `created`, `network` (the
  `NetworkConfig` options), `weights` (file name, sha256, parameter count), `tokenizer` (the
  dataset's tokenizer JSON), `dataset` (manifest and split sizes), `training` (checkpoint
  name, epoch, global step, training hyper-parameters) and `metrics` (best val loss and the
  last epoch's metrics).

`load_bundle` reads a bundle directory, its bundle.json, or a Lightning `.ckpt`; checkpoints
are opened with `torch.load(weights_only=True)`, which refuses pickled code. A bundle or a
checkpoint may come from anyone, so everything in it is checked before it is used:
bundle.json field by field (`bundle_json.py`), the weights by name, shape and value
(`weights.py`). Importing this module does not import Lightning.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from melodyrnn._files import atomic_write, atomic_write_text
from melodyrnn._version import __version__
from melodyrnn.errors import ModelError, WriteError
from melodyrnn.models.bundle_json import (
    BUNDLE_FORMAT,
    FORMAT_VERSION,
    META_FILE,
    NETWORK_KEYS,
    WEIGHTS_FILE,
    network_config,
    read_bundle_json,
    weights_path,
)
from melodyrnn.models.network import MelodyLSTM
from melodyrnn.models.weights import (
    build_network,
    check_file_size,
    check_state,
    read_safetensors,
)

__all__ = ["BUNDLE_FORMAT", "FORMAT_VERSION", "META_FILE", "WEIGHTS_FILE", "export_bundle",
           "find_checkpoint", "load_bundle", "load_weights_into", "read_checkpoint"]
MODEL_FORMS = ("--model takes a bundle folder, a bundle's bundle.json, or a Lightning .ckpt "
               "checkpoint")
# Hyper-parameters that are not training options (stored elsewhere in the bundle, or internal).
_NOT_TRAINING = (*NETWORK_KEYS, "tokenizer", "dataset_info", "_instantiator", "_class_path")


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A Lightning checkpoint as a dict of tensors and plain values; never runs pickled code."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"checkpoint {path} does not exist")
    with open(path, "rb") as fh:
        head = fh.read(64)
    kind = _file_kind(head)
    if kind:
        raise ModelError(f"{path} is {kind}, not a model; {MODEL_FORMS}")
    try:
        with warnings.catch_warnings():  # torch warns about old pickle protocols; we refuse
            warnings.simplefilter("ignore")
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any failure to unpickle means an unusable file, whatever the kind
        raise ModelError(_unreadable(path, exc)) from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict) \
            or not isinstance(checkpoint.get("hyper_parameters"), dict):
        raise ModelError(f"{path} is not a Lightning checkpoint of melodyrnn (no state_dict or "
                         "hyper_parameters)")
    return checkpoint


def _file_kind(head: bytes) -> str | None:
    """What a file that is surely not a checkpoint is, from its first bytes; None if unsure."""
    if not head:
        return "an empty file"
    if head.startswith((b"PK\x03\x04", b"\x80")):
        return None  # a zip archive or a pickle, as torch.save writes them
    if head.startswith(b"MThd"):
        return "a MIDI file"
    if head.startswith(b"%PDF"):
        return "a PDF file"
    if head.startswith(b"RIFF"):
        return "a WAV audio file"
    if len(head) > 9 and head[8:10] == b'{"':
        return "a safetensors weights file (pass the bundle folder that holds it)"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    for start, kind in (("<", "an XML file"), ("{", "a JSON file"),
                        ("[", "a JSON file"), ("X:", "an ABC file"), ("%", "an ABC file")):
        if text.startswith(start):
            return kind
    return "a text file" if "\ufffd" not in text else None


def _unreadable(path: Path, exc: Exception) -> str:
    """The sentence for a checkpoint torch.load refused or could not read."""
    text = str(exc)
    if "Weights only load failed" in text:
        found = re.search(r"Unsupported[^.\n]*", text)
        what = f" ({found.group(0).strip()})" if found else ""
        return (f"{path} holds pickled Python objects other than tensors and plain values"
                f"{what}, which melodyrnn never runs; use a checkpoint written by "
                "`melodyrnn fit`, or a bundle")
    reason = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    reason = reason.split(". ")[0].rstrip(".")[:200]  # torch's first sentence says what failed
    return (f"{path} cannot be read as a melodyrnn checkpoint ({reason}); it may be "
            "truncated, corrupt or not a checkpoint")


def _network_from_checkpoint(checkpoint: dict[str, Any], path: Path) -> MelodyLSTM:
    hparams = checkpoint["hyper_parameters"]
    if "vocab_size" not in hparams:
        raise ModelError(f"{path}: the checkpoint's hyper-parameters lack vocab_size")
    config = network_config({k: hparams[k] for k in NETWORK_KEYS if k in hparams}, path,
                            "hyper-parameter")
    state = {k.removeprefix("net."): v for k, v in checkpoint["state_dict"].items()
             if isinstance(k, str) and k.startswith("net.")}
    return build_network(config, check_state(state, config, path), path)


# The state keys of the callbacks that keep the best checkpoint: Lightning's own, and the
# training CLI's subclass (`fit.checkpoints.BestCheckpoint`) in checkpoints written since.
BEST_CALLBACKS = ("ModelCheckpoint", "BestCheckpoint")


def _checkpoint_meta(checkpoint: dict[str, Any], path: Path) -> dict[str, Any]:
    """Provenance and metrics of a checkpoint, in the layout of bundle.json (less tokenizer)."""
    hparams = checkpoint["hyper_parameters"]
    metrics: dict[str, Any] = {}
    callbacks = checkpoint.get("callbacks")
    for key, state in (callbacks.items() if isinstance(callbacks, dict) else ()):
        if str(key).startswith(BEST_CALLBACKS) and isinstance(state, dict):
            score = state.get("best_model_score")
            if isinstance(score, int | float) or (isinstance(score, torch.Tensor)
                                                  and score.numel() == 1):
                metrics["best_" + str(state.get("monitor") or "score")] = float(score)
    ours = checkpoint.get("melodyrnn")
    stored = ours.get("metrics") if isinstance(ours, dict) else None
    if isinstance(stored, dict):
        metrics.update((str(k), v) for k, v in stored.items()
                       if isinstance(v, int | float) and not isinstance(v, bool))
    return {
        "network": {k: hparams[k] for k in NETWORK_KEYS if k in hparams},
        "dataset": hparams.get("dataset_info") if isinstance(hparams.get("dataset_info"),
                                                             dict) else {},
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
        callbacks = read_checkpoint(last).get("callbacks")
        for key, state in (callbacks.items() if isinstance(callbacks, dict) else ()):
            best = state.get("best_model_path") if str(key).startswith(BEST_CALLBACKS) \
                and isinstance(state, dict) else None
            if not isinstance(best, str) or not best or "\0" in best:
                continue
            for candidate in (folder / Path(best).name, Path(best)):
                if candidate.is_file():
                    return candidate
        return last
    best = sorted(folder.glob("*.ckpt"), key=lambda p: p.stat().st_mtime)
    if best:
        return best[-1]
    raise ModelError(f"{path} holds no model: no {META_FILE} and no checkpoint (*.ckpt); "
                     f"{MODEL_FORMS}")


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


def _load_bundle_dir(folder: Path) -> tuple[MelodyLSTM, dict[str, Any], dict[str, Any]]:
    """Every field of bundle.json is checked, and the weights file's place, size and sha256,
    before the weights are read; their shapes are checked before they are loaded."""
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        raise ModelError(f"{folder} is not a model bundle: {META_FILE} is missing")
    meta = read_bundle_json(meta_path)
    config = network_config(meta["network"], meta_path)
    _check_vocab_size(meta["tokenizer"], config.vocab_size, meta_path)
    stored = meta["weights"].get("parameters")
    if stored is not None and stored != config.parameter_count():
        raise ModelError(f"{meta_path}: weights parameters {stored:,} differs from the "
                         f"{config.parameter_count():,} of the network options; export the "
                         "bundle again")
    weights = weights_path(folder, meta, meta_path)
    check_file_size(weights, config)
    expected = meta["weights"].get("sha256")
    if expected and _sha256(weights) != expected:
        raise ModelError(f"{weights} does not match the sha256 in {meta_path}; the file was "
                         "changed or truncated, so export the bundle again")
    network = build_network(config, read_safetensors(weights, config), weights)
    tokenizer = meta.pop("tokenizer")
    return network, tokenizer, meta


def _check_vocab_size(tokenizer: Any, vocab_size: int, where: Path) -> None:
    """A stored vocabulary must have one token per output of the network."""
    vocab = tokenizer.get("vocab") if isinstance(tokenizer, dict) else None
    if isinstance(vocab, list) and len(vocab) != vocab_size:
        raise ModelError(f"{where}: the tokenizer has {len(vocab):,} tokens but the network "
                         f"vocab_size is {vocab_size:,}; they must be equal")


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
    if not isinstance(tokenizer, dict):
        raise ModelError(f"{ckpt}: the stored tokenizer is not a tokenizer description")
    _check_vocab_size(tokenizer, network.config.vocab_size, ckpt)
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
