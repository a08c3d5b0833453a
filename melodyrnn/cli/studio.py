"""`melodyrnn studio`: serve the page that writes, shows and plays tunes, on this machine."""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
from pathlib import Path

from melodyrnn.cli import flags
from melodyrnn.errors import ConfigError

INSTALL = 'pip install -e ".[studio]" in a source checkout, or pip install "melodyrnn[studio]"'


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "studio", help="a page in the browser that writes, shows and plays tunes",
        description="Serve a local web page to write tunes with a model, see their score, "
                    "hear them, and download them (.mid, .musicxml, .png, .pdf, .wav). The "
                    "page works offline. Needs the studio extra: " + INSTALL + ".",
        epilog="examples:\n  melodyrnn studio\n"
               "  melodyrnn studio --model my-model --port 9000",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="a model bundle or checkpoint the page may choose, beside "
                                   "the bundled folk model")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=flags.number(1, 65535, whole=True), default=8765,
                   help="port to listen on (default 8765)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    missing = [m for m in ("starlette", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"the studio needs {' and '.join(missing)}, which are not "
                          f"installed; {INSTALL}")
    # the server and torch load only when the studio starts
    from melodyrnn.studio.serve import serve

    try:
        with tempfile.TemporaryDirectory(prefix="melodyrnn-studio-") as folder:
            serve(Path(folder), model=args.model, host=args.host, port=int(args.port))
    except KeyboardInterrupt:
        raise KeyboardInterrupt("the studio stopped; download the tunes you want to keep "
                                "before stopping it, they are not kept") from None
    return 0
