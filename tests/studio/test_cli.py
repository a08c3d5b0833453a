"""`melodyrnn studio` on the command line: its flags, and its refusals in one sentence."""

from __future__ import annotations

import pytest

from melodyrnn.cli import main


def test_studio_help_names_its_flags(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["studio", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--model" in out and "--port" in out and "127.0.0.1" in out


def test_a_bad_port_is_refused_at_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["studio", "--port", "70000"])
    assert exc.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_without_the_extra_it_says_what_to_install(monkeypatch, capsys):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "uvicorn" else real(name, *a))
    assert main(["studio"]) == 1
    err = capsys.readouterr().err.strip()
    assert 'pip install -e ".[studio]"' in err and len(err.splitlines()) == 1


def test_a_missing_model_is_one_sentence(tmp_path, capsys):
    pytest.importorskip("uvicorn")
    assert main(["studio", "--model", str(tmp_path / "nothing")]) == 1
    err = capsys.readouterr().err.strip()
    assert "nothing" in err and len(err.splitlines()) == 1
