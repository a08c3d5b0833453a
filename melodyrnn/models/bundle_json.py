"""bundle.json as untrusted input: read it within limits and check every field before use.

A bundle may come from anyone, so nothing in its description is believed until checked here:
the file's size, its JSON (depth, number lengths), each section's type, the format version,
the network options (by type, range and parameter count, before anything is allocated) and
the weights file's name, which must stay inside the bundle folder. Each failure is one
`ModelError` sentence naming bundle.json, the field and the value.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from melodyrnn._files import read_json
from melodyrnn.core.limits import limit, over_limit
from melodyrnn.errors import MelodyRNNError, ModelError
from melodyrnn.models.network import NetworkConfig
from melodyrnn.models.network import short_value as _short

BUNDLE_FORMAT = "melodyrnn-bundle"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
META_FILE = "bundle.json"
NETWORK_KEYS = NetworkConfig.keys()
_AGAIN = "export the bundle again"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def read_bundle_json(path: Path) -> dict[str, Any]:
    """bundle.json parsed and checked section by section; ModelError naming what is wrong."""
    size = path.stat().st_size
    if size > limit("max_file_bytes"):
        raise ModelError(over_limit("max_file_bytes", size, str(path)))
    meta = read_json(path, ModelError, "the bundle description", _AGAIN)
    check_meta(meta, path)
    return meta


def check_meta(meta: Any, path: Path) -> None:
    """Refuse a bundle description whose sections or fields have the wrong type or range."""
    if not isinstance(meta, dict) or meta.get("format") != BUNDLE_FORMAT:
        raise ModelError(f"{path} is not a melodyrnn bundle (format is not '{BUNDLE_FORMAT}')")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelError(f"{path}: format_version {_short(version)} is not a bundle format "
                         f"version (versions are whole numbers from 1; this melodyrnn reads up "
                         f"to {FORMAT_VERSION}); {_AGAIN}")
    if version > FORMAT_VERSION:
        raise ModelError(f"{path} has bundle format_version {version}; this melodyrnn reads up "
                         f"to {FORMAT_VERSION}, so upgrade melodyrnn")
    for key in ("network", "tokenizer", "weights"):
        if not isinstance(meta.get(key), dict):
            raise ModelError(f"{path} lacks its '{key}' section (a JSON object); {_AGAIN}")
    for key, kind, name in (("melodyrnn_version", str, "a string"), ("created", str, "a string"),
                            ("dataset", dict, "an object"), ("training", dict, "an object"),
                            ("metrics", dict, "an object")):
        if meta.get(key) is not None and not isinstance(meta[key], kind):
            raise ModelError(f"{path}: '{key}' is {_short(meta[key])}, not {name}; {_AGAIN}")
    _check_weights_section(meta["weights"], path)
    _check_provenance(meta, path)


def _check_weights_section(weights: dict[str, Any], path: Path) -> None:
    name = weights.get("file", WEIGHTS_FILE)
    if not isinstance(name, str) or not name or "\0" in name:
        raise ModelError(f"{path}: weights file {_short(name)} is not a file name; {_AGAIN}")
    sha = weights.get("sha256")
    if sha is not None and not (isinstance(sha, str) and _SHA256.fullmatch(sha)):
        raise ModelError(f"{path}: weights sha256 {_short(sha)} is not 64 hexadecimal "
                         f"digits; {_AGAIN}")
    count = weights.get("parameters")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                              or count < 0):
        raise ModelError(f"{path}: weights parameters {_short(count)} is not a count of "
                         f"parameters; {_AGAIN}")


def _check_provenance(meta: dict[str, Any], path: Path) -> None:
    """The parts of dataset and metrics that melodyrnn reads: a corpus name, numbers."""
    manifest = (meta.get("dataset") or {}).get("manifest")
    if manifest is not None and not isinstance(manifest, dict):
        raise ModelError(f"{path}: dataset manifest is {_short(manifest)}, not an object; "
                         f"{_AGAIN}")
    corpus = (manifest or {}).get("corpus")
    if corpus is not None and not isinstance(corpus, str):
        raise ModelError(f"{path}: dataset corpus {_short(corpus)} is not a name; {_AGAIN}")
    for key, value in (meta.get("metrics") or {}).items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ModelError(f"{path}: metric '{key}' is {_short(value)}, not a number; "
                             f"{_AGAIN}")


def network_config(options: Any, where: Path, section: str = "network") -> NetworkConfig:
    """The `NetworkConfig` of stored options, checked before anything is allocated."""
    if not isinstance(options, dict):
        raise ModelError(f"{where}: the {section} options are {_short(options)}, not an "
                         f"object; {_AGAIN}")
    unknown = [k for k in options if k not in NETWORK_KEYS]
    if unknown:
        raise ModelError(f"{where}: the {section} options have no option {_short(unknown[0])} "
                         f"(the options are {', '.join(NETWORK_KEYS)})")
    if "vocab_size" not in options:
        raise ModelError(f"{where}: the {section} options lack vocab_size")
    try:
        return NetworkConfig(**options)
    except MelodyRNNError as exc:
        raise ModelError(f"{where}: {section} {exc}") from None


def weights_path(folder: Path, meta: dict[str, Any], meta_path: Path) -> Path:
    """The weights file bundle.json names, resolved, and only if it lies inside `folder`.

    Nothing is opened: the name is refused when absolute or climbing out (`..`), and the
    resolved path when a link leads outside the folder or to something not a regular file.
    """
    name = meta["weights"].get("file", WEIGHTS_FILE)
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or ".." in posix.parts \
            or ".." in windows.parts:
        raise ModelError(f"{meta_path}: weights file {_short(name)} points outside the bundle "
                         f"folder; it must name a file inside it, such as '{WEIGHTS_FILE}'")
    named = folder / name
    resolved, root = named.resolve(), folder.resolve()
    if not resolved.is_relative_to(root):
        raise ModelError(f"{meta_path}: weights file {_short(name)} is a link that leads "
                         f"outside the bundle folder; copy the real file into the bundle")
    if not resolved.exists():
        raise ModelError(f"{named} is missing; the bundle is incomplete")
    if not resolved.is_file():
        raise ModelError(f"{named} is not a regular file; the bundle is incomplete")
    return resolved

