"""Running the studio: load the model, make the app, print the address, serve until Ctrl-C."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import uvicorn

from melodyrnn.errors import ConfigError
from melodyrnn.studio.app import create_app
from melodyrnn.studio.generation import Studio
from melodyrnn.studio.tunes import TuneStore


def make_studio(folder: Path, model: str | Path | None = None) -> Studio:
    """A studio keeping its tunes in `folder`, its default model loaded (so a bad --model is
    refused before the page opens)."""
    studio = Studio(TuneStore(folder), model)
    studio.model(None)
    return studio


def serve(folder: Path, model: str | Path | None, host: str, port: int) -> None:
    """Serve the studio on host:port until interrupted."""
    studio = make_studio(folder, model)
    try:  # a port in use is found now, with a sentence, not in uvicorn's log
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose "
                          "another --port or --host") from None
    if studio.synth_problem:
        print(f"melodyrnn studio: audio plays on the plain built-in synth "
              f"({studio.synth_problem})", file=sys.stderr)
    shown = f"[{host}]" if ":" in host else host
    print(f"melodyrnn studio: open http://{shown}:{port}/ (Ctrl-C stops it)", flush=True)
    config = uvicorn.Config(create_app(studio), host=host, port=port, log_level="warning")
    uvicorn.Server(config).run()
