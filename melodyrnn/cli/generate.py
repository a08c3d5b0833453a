"""`melodyrnn generate`: sample new melodies and write them in every asked-for format."""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from melodyrnn.cli import flags
from melodyrnn.cli.writing import prepare_out, write_stream
from melodyrnn.core.key import Key
from melodyrnn.core.meter import parse_time_signature
from melodyrnn.io.inputs.text import parse_range


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate", help="write new melodies from a model (the bundled folk model by default)",
        description="Sample new melodies and write them as MIDI, MusicXML, score images and "
                    "audio.",
        epilog="examples:\n  melodyrnn generate\n"
               "  melodyrnn generate --num 4 --temperature 0.8 --top-p 0.95 --bars 16\n"
               "  melodyrnn generate --meter 6/8 --key D:dorian --primer \"D4 E4 F4 A4:2\"\n"
               "  melodyrnn generate --beam 4 --scale G:major --range D4:B5 --formats mid,png\n"
               "  melodyrnn generate --num 1000 --bars 16 --formats mid --out many",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="model bundle or checkpoint (default: the bundled folk model)")
    p.add_argument("--num", type=flags.number(1, whole=True), default=1,
                   help="how many melodies; each batch of 64 is written as soon as it is "
                        "sampled, and Ctrl-C keeps what was written")
    p.add_argument("--temperature", type=flags.number(0), default=1.0,
                   help="randomness: 1 samples the model as is, lower is safer, 0 is greedy")
    p.add_argument("--top-k", type=flags.number(1, whole=True),
                   help="draw only from the k likeliest")
    p.add_argument("--top-p", type=flags.number(0, 1, above=True),
                   help="draw only from the likeliest tokens holding this much probability")
    p.add_argument("--beam", type=flags.number(1, whole=True), default=1,
                   help="beam search with this many beams (1: plain sampling)")
    p.add_argument("--branch", type=flags.number(1, whole=True), default=2,
                   help="candidates drawn per beam and step in beam search")
    primer = p.add_mutually_exclusive_group()
    primer.add_argument("--primer", help="opening notes, e.g. \"C4 D4 E4 G4:2\" "
                        "(pitch or MIDI number or R for a rest, :BEATS in quarter notes)")
    primer.add_argument("--primer-file", help="take the opening from a melody file")
    p.add_argument("--meter", type=flags.checked(parse_time_signature),
                   help="time signature, e.g. 6/8")
    p.add_argument("--key", type=flags.checked(Key.parse),
                   help="key to condition on, e.g. D:dorian")
    p.add_argument("--scale", type=flags.checked(Key.parse),
                   help="play only notes of this key and mode, e.g. G:major")
    p.add_argument("--range", type=flags.checked(parse_range), dest="pitch_range",
                   metavar="LOW:HIGH", help="lowest and highest pitch, e.g. C3:C6 or 48:84")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--bars", type=flags.number(1, whole=True), help="length in bars")
    length.add_argument("--notes", type=flags.number(1, whole=True), help="length in notes")
    length.add_argument("--seconds", type=flags.number(0, above=True), help="length in seconds")
    p.add_argument("--qpm", type=flags.number(1, 1000), default=120.0,
                   help="tempo in quarter notes per minute")
    p.add_argument("--seed", type=flags.number(0, whole=True),
                   help="random seed; the same seed and settings give the same files")
    p.add_argument("--out", default="outputs", help="folder to write into (default: outputs)")
    p.add_argument("--name", default="melody", help="file name stem (default: melody)")
    p.add_argument("--formats", type=flags.formats, default=flags.formats("mid,musicxml,png,wav"),
                   help="comma-separated: mid, musicxml, mxl, svg, png, pdf, wav, abc")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    # torch loads with the model, so only when melodies are generated
    from melodyrnn.generate.model import check_num, load_model

    check_num(args.num, "--num")
    model = load_model(args.model)
    # every setting, the primer and its limits are checked here, before anything is sampled
    batches = model.generate_batches(
        num=args.num, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
        primer=args.primer or args.primer_file, notes=args.notes, bars=args.bars, seed=seed,
        seconds=args.seconds, beam=args.beam, branch=args.branch,
        meter=None if args.meter is None else "{}/{}".format(*args.meter), key=args.key,
        scale=args.scale, pitch_range=args.pitch_range, qpm=args.qpm)
    stem = f"{args.name}-{seed}"
    prepare_out(Path(args.out), stem, args.num, args.formats, args.force)
    write_stream(batches, args, stem, args.num)
    return 0
