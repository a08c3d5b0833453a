"""`melodyrnn generate`: files written, reproducible, never overwritten, bad flags refused."""

from __future__ import annotations

import pytest

from melodyrnn.cli import main


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_cli_bad_primer_is_one_sentence(tiny_model, tmp_path, capsys):
    assert main(["generate", "--model", str(tiny_model), "--primer", "C4 Q4",
                 "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert "'Q4'" in err and len(err.splitlines()) == 1
