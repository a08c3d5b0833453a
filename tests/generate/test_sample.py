"""Sampling and generation: strategies, primers, constraints, conditioning, seeds, the CLI."""

from __future__ import annotations

import math

import pytest
import torch

import melodyrnn as mr
from melodyrnn.cli import main
from melodyrnn.errors import ConfigError, ModelError
from melodyrnn.generate.sample import filter_top_k, filter_top_p
from melodyrnn.io.inputs.text import parse_primer, parse_range


@pytest.fixture(scope="module")
def model(tiny_model):
    return mr.load_model(tiny_model)


def clean_decode(model, melody) -> int:
    """Grammar errors when the melody's tokens are decoded again (0 = a valid sequence)."""
    return model.tokenizer.decode(model.tokenizer.encode(melody), return_errors=True)[1]


def test_primer_syntax():
    m = parse_primer("C4 D4 E4 G4:2 R:0.5 60:0.5")
    assert m.pitches == [60, 62, 64, 67, 60]
    assert [n.start_step for n in m.notes] == [0, 4, 8, 12, 22]
    assert [n.duration_steps for n in m.notes] == [4, 4, 4, 8, 2]
    assert m.end_step == 24
    for bad in ("C4 X9", "C4:0", "C4:0.3", "", "200"):
        with pytest.raises(ConfigError):
            parse_primer(bad)
    with pytest.raises(ConfigError, match="'X9'"):
        parse_primer("C4 X9")


def test_range_syntax():
    assert parse_range("C3:C6") == (48, 84)
    assert parse_range("48:84") == (48, 84)
    for bad in ("C6:C3", "C3", "C3:Q5"):
        with pytest.raises(ConfigError):
            parse_range(bad)


def test_top_k_and_top_p_filters():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isinf(filter_top_k(logits, 2)[0, 2:]).all()
    assert not torch.isinf(filter_top_k(logits, 2)[0, :2]).any()
    kept = ~torch.isinf(filter_top_p(logits, 0.75))
    assert kept.tolist() == [[True, True, False, False]]  # 0.5 + 0.3 reaches 0.75
    assert (~torch.isinf(filter_top_p(logits, 0.5))).sum() == 1


def test_generate_lengths_and_clean_sequences(model):
    for kwargs in ({"bars": 4}, {"notes": 12}, {"seconds": 6.0}):
        melodies = model.generate(num=3, seed=1, **kwargs)
        assert len(melodies) == 3
        for m in melodies:
            assert clean_decode(model, m) == 0
            if "notes" in kwargs:
                assert len(m) == 12
            if "bars" in kwargs:
                assert m.end_step >= 4 * m.steps_per_bar
            if "seconds" in kwargs:
                assert m.seconds >= 6.0


def test_same_seed_same_melodies_other_seed_differs(model):
    a = model.generate(num=2, bars=4, seed=3, temperature=1.2)
    assert a == model.generate(num=2, bars=4, seed=3, temperature=1.2)
    assert a != model.generate(num=2, bars=4, seed=4, temperature=1.2)


def test_greedy_ignores_the_seed(model):
    a = model.generate(num=1, notes=10, temperature=0, seed=1)
    assert a[0].notes == model.generate(num=1, notes=10, temperature=0, seed=2)[0].notes


def test_primer_opens_every_melody(model):
    for m in model.generate(num=3, notes=10, primer="E4 F4 G4:2", seed=0):
        assert m.pitches[:3] == [64, 65, 67]
        assert [n.duration_steps for n in m.notes[:3]] == [4, 4, 8]


def test_primer_file(model, tmp_path):
    parse_primer("A4 B4 C5").write(tmp_path / "p.mid")
    m = model.generate(num=1, notes=6, primer=str(tmp_path / "p.mid"), seed=0)[0]
    assert m.pitches[:3] == [69, 71, 72]


def test_scale_and_range_constraints_hold(model):
    melodies = model.generate(num=4, notes=24, scale="D:dorian", pitch_range="D4:D5",
                              temperature=1.5, seed=0)
    dorian = mr.Key.parse("D:dorian").pitch_classes
    for m in melodies:
        assert all(62 <= p <= 74 and p % 12 in dorian for p in m.pitches)


def test_meter_and_key_conditioning(model):
    for m in model.generate(num=2, bars=3, meter="3/4", key="G:major", seed=0):
        assert m.time_signature == (3, 4)
        assert str(m.key) == "G:major"
        assert m.end_step >= 3 * 12
        assert clean_decode(model, m) == 0


def test_beam_search_finds_likelier_melodies_than_sampling(model):
    beam = model.generate(num=1, notes=8, temperature=1.0, beam=8, branch=3, seed=0)[0]
    assert len(beam) == 8 and clean_decode(model, beam) == 0
    sampled = [model.score(m).log_likelihood
               for m in model.generate(num=9, notes=8, temperature=1.0, seed=0)]
    assert model.score(beam).log_likelihood > sorted(sampled)[4]  # above the median sample


def test_bad_settings_are_one_sentence_errors(model):
    for kwargs, needle in (({"temperature": -1}, "temperature"), ({"top_p": 0}, "top_p"),
                           ({"top_k": 0}, "top_k"), ({"num": 0}, "num"),
                           ({"scale": "C:major", "pitch_range": (61, 61)}, "no pitch")):
        with pytest.raises(ConfigError, match=needle):
            model.generate(**kwargs)


def test_score_reports_bits_per_note(model):
    melody = model.generate(num=1, notes=16, seed=0)[0]
    result = model.score(melody)
    assert result.log_likelihood < 0 and result.notes == 16
    assert result.bits_per_note == pytest.approx(-result.log_likelihood / math.log(2) / 16)


def test_model_exposes_network_tokenizer_and_corpus(model):
    logits, _state = model.network(torch.tensor([[model.tokenizer.bos_id]]))
    assert logits.shape == (1, 1, model.tokenizer.vocab_size)
    assert model.corpus == ["tiny-tunes"]


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        mr.load_model(tmp_path / "nothing")


def test_cli_generate_writes_files_and_is_reproducible(tiny_model, tmp_path, capsys):
    args = ["generate", "--model", str(tiny_model), "--num", "2", "--bars", "4", "--seed", "5",
            "--formats", "mid,musicxml,wav", "--out", str(tmp_path / "a")]
    assert main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 6 and all(line.startswith("wrote ") for line in lines)
    files = sorted((tmp_path / "a").iterdir())
    assert [f.name for f in files][:3] == ["melody-5-01.mid", "melody-5-01.musicxml",
                                           "melody-5-01.wav"]
    assert main([*args[:-1], str(tmp_path / "b")]) == 0
    for f in files:  # byte-identical with the same seed and settings
        assert (tmp_path / "b" / f.name).read_bytes() == f.read_bytes(), f.name


def test_cli_generate_refuses_to_overwrite(tiny_model, tmp_path, capsys):
    args = ["generate", "--model", str(tiny_model), "--notes", "8", "--seed", "1",
            "--formats", "mid", "--out", str(tmp_path)]
    assert main(args) == 0
    before = (tmp_path / "melody-1.mid").read_bytes()
    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert "already exists" in err and "--force" in err and len(err.splitlines()) == 1
    assert (tmp_path / "melody-1.mid").read_bytes() == before
    assert main([*args, "--force"]) == 0


@pytest.mark.parametrize("flags", [["--temperature", "-0.5"], ["--top-p", "1.5"],
                                   ["--formats", "mid,mp3"], ["--meter", "7/9"],
                                   ["--primer", "C4", "--primer-file", "x.mid"],
                                   ["--bars", "4", "--notes", "8"], ["--num", "0"]],
                         ids=["temperature", "top-p", "formats", "meter", "two-primers",
                              "two-lengths", "num"])
def test_cli_generate_bad_flags_exit_2(flags, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["generate", *flags])
    assert exc.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_cli_bad_primer_is_one_sentence(tiny_model, tmp_path, capsys):
    assert main(["generate", "--model", str(tiny_model), "--primer", "C4 Q4",
                 "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert "'Q4'" in err and len(err.splitlines()) == 1


def test_cli_render(tmp_path, capsys, c_major_scale):
    c_major_scale.write(tmp_path / "scale.mid")
    assert main(["render", str(tmp_path / "scale.mid"), "--formats", "png,musicxml"]) == 0
    assert (tmp_path / "scale.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = mr.read_melodies(tmp_path / "scale.musicxml")[0]
    assert again.notes == c_major_scale.notes


def test_bundled_model_generates_in_a_key_and_meter_it_chooses(tmp_path):
    model = mr.load_model()
    assert model.corpus == ["folk"] and model.network.options()["cell"] == "lstm"
    melodies = model.generate(num=3, bars=8, seed=0)
    for m in melodies:
        assert m.key is not None and m.end_step >= 8 * m.steps_per_bar
        assert clean_decode(model, m) == 0
    written = melodies[0].write(tmp_path / "tune.mid")
    assert mr.read_melodies(written)[0].notes == melodies[0].notes


def test_bundled_model_metadata_records_its_corpus_and_validation_figures():
    meta = mr.load_model().meta
    assert meta["dataset"]["manifest"]["corpus"] == "folk"
    metrics, counts = meta["metrics"], meta["dataset"]["manifest"]["counts"]
    assert metrics["best_val_loss"] == pytest.approx(metrics["val_loss"])  # the best is shipped
    assert metrics["best_val_loss"] < 1.2  # nats per token on its valid split
    # bits per note: the same nats, over the valid notes instead of the predicted tokens
    predicted = counts["tokens"]["valid"] - counts["melodies"]["valid"]  # BOS is given
    assert metrics["val_bpn"] == pytest.approx(
        metrics["val_loss"] * predicted / counts["notes"]["valid"] / math.log(2), rel=1e-6)
