"""The studio's server: tunes written and served, every refusal a status and one sentence."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")  # starlette's test client

from starlette.testclient import TestClient

from melodyrnn.io.inputs.midi import read_score
from melodyrnn.studio.app import create_app
from melodyrnn.studio.generation import Studio
from melodyrnn.studio.request import FieldError, parse_request
from melodyrnn.studio.tunes import TuneStore

FORM = {"meter": "6/8", "key": "D:dorian", "primer": "D4 E4 F4 A4:2", "bars": 4, "seed": 3,
        "temperature": 0.9}


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Studio:
    studio = Studio(TuneStore(tmp_path_factory.mktemp("studio")))
    studio.model(None)  # the bundled model, loaded once for the module
    return studio


@pytest.fixture(scope="module")
def client(studio: Studio):
    with TestClient(create_app(studio, max_upload_bytes=2000),
                    raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def tune(client) -> dict:
    response = client.post("/api/generate", json=FORM)
    assert response.status_code == 200, response.text
    return response.json()


def test_generate_gives_a_tune_with_its_score_and_audio(client, tune, tmp_path):
    assert tune["meter"] == "6/8" and tune["key"] == "D:dorian" and tune["seed"] == 3
    assert tune["pitches"][:4] == [62, 64, 65, 69]
    svg = client.get(tune["files"]["svg"])
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg")
    assert b"<svg" in svg.content and b'class="note"' in svg.content
    wav = client.get(tune["files"]["wav"])
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF" and len(wav.content) > 10_000
    mid = client.get(tune["files"]["mid"] + "?download")
    assert "attachment" in mid.headers["content-disposition"]
    assert "melody-3.mid" in mid.headers["content-disposition"]
    (tmp_path / "t.mid").write_bytes(mid.content)
    pitches = [n.pitch for n in read_score(tmp_path / "t.mid").tracks[0].notes]
    assert pitches[:4] == [62, 64, 65, 69]
    listed = client.get("/api/tunes").json()["tunes"]
    assert tune["id"] in [t["id"] for t in listed]
    assert client.get(f"/api/tunes/{tune['id']}").json()["seed"] == 3


def test_the_same_seed_and_settings_give_the_same_tune(client, tune):
    again = client.post("/api/generate", json=FORM).json()
    assert again["id"] != tune["id"] and again["pitches"] == tune["pitches"]


def test_pdf_png_and_musicxml_are_written_when_asked(client, tune):
    for name, start in (("png", b"\x89PNG"), ("pdf", b"%PDF"), ("musicxml", b"<?xml")):
        response = client.get(tune["files"][name])
        assert response.status_code == 200 and response.content.startswith(start), name


def test_continuing_a_tune_starts_with_it(client, tune):
    response = client.post("/api/generate", json={"primer_tune": tune["id"],
                                                   "bars": tune["bars"] + 2, "seed": 1})
    assert response.status_code == 200, response.text
    longer = response.json()
    assert longer["notes"] > tune["notes"]
    assert longer["primer"] == f"continues tune {tune['number']}"
    assert longer["pitches"][:len(tune["pitches"])] == tune["pitches"][:16]


@pytest.mark.parametrize(("form", "field", "words"), [
    ({"primer": "C4 Q4"}, "primer", "'Q4'"),
    ({"meter": "7/9"}, "meter", "7/9"),
    ({"key": "H:major"}, "key", "H:major"),
    ({"temperature": -1}, "temperature", "temperature -1"),
    ({"temperature": "warm"}, "temperature", "'warm'"),
    ({"top_p": 1.5}, "top_p", "top_p 1.5"),
    ({"bars": 0}, "bars", "bars 0"),
    ({"bars": 100_000}, "bars", "melodyrnn generate"),
    ({"seed": -2}, "seed", "seed -2"),
    ({"model": "/etc"}, "model", "no model"),
    ({"primer_file": "../../etc/passwd"}, "primer_file", "no uploaded file"),
    ({"primer_tune": "../x"}, "primer", "no tune"),
    ({"primer": "C4", "primer_tune": "0123456789abcdef"}, "primer", "one opening"),
    ({"colour": "red"}, "colour", "unknown setting"),
], ids=lambda v: str(v) if isinstance(v, str) else None)
def test_bad_input_is_400_with_the_sentence_and_its_control(client, form, field, words):
    response = client.post("/api/generate", json=form)
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == field and words in body["error"]
    assert "\n" not in body["error"] and "Traceback" not in response.text


def test_the_primer_sentence_is_the_command_lines(client):
    from melodyrnn.io.inputs.text import parse_primer
    with pytest.raises(Exception) as exc:
        parse_primer("C4 Q4")
    assert client.post("/api/generate", json={"primer": "C4 Q4"}).json()["error"] == \
        str(exc.value)


def test_not_json_is_400(client):
    response = client.post("/api/generate", content=b"{not json",
                           headers={"content-type": "application/json"})
    assert response.status_code == 400 and "JSON" in response.json()["error"]


def test_an_uploaded_primer_opens_the_tune(client, write_tune, tmp_path):
    write_tune(tmp_path / "hum.mid", [62, 64, 65, 69])
    sent = client.post("/api/primers?name=hum.mid", content=(tmp_path / "hum.mid").read_bytes())
    assert sent.status_code == 200, sent.text
    response = client.post("/api/generate", json={"primer_file": sent.json()["id"], "bars": 4,
                                                  "meter": "4/4", "seed": 2})
    assert response.status_code == 200, response.text
    assert response.json()["pitches"][:4] == [62, 64, 65, 69]
    assert response.json()["primer"] == "hum.mid"


def test_a_broken_upload_is_named_as_the_user_named_it(client):
    sent = client.post("/api/primers?name=broken.mid", content=b"MThd not really")
    response = client.post("/api/generate", json={"primer_file": sent.json()["id"]})
    assert response.status_code == 400 and response.json()["field"] == "primer_file"
    assert "broken.mid" in response.json()["error"] and "upload" not in \
        response.json()["error"].replace("broken.mid", "")


def test_an_upload_of_another_kind_is_refused(client):
    response = client.post("/api/primers?name=notes.txt", content=b"C4 D4")
    assert response.status_code == 400 and response.json()["field"] == "primer_file"
    assert "notes.txt" in response.json()["error"]


def test_an_oversize_upload_is_413(client):
    response = client.post("/api/primers?name=big.mid", content=b"x" * 5000)
    assert response.status_code == 413 and response.json()["field"] == "primer_file"
    assert "larger than" in response.json()["error"]

    def chunks():  # no Content-Length: the stream is counted as it comes
        for _ in range(10):
            yield b"x" * 500
    response = client.post("/api/primers?name=big.mid", content=chunks())
    assert response.status_code == 413


@pytest.mark.parametrize("path", ["/api/tunes/0123456789abcdef", "/api/tunes/..%2F..%2Fetc",
                                  "/api/tunes/%2Fetc%2Fpasswd/mid", "/api/tunes/../../etc/passwd",
                                  "/api/tunes/0123456789abcdef/mid", "/static/../app.py",
                                  "/nowhere"])
def test_unknown_and_path_like_ids_are_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"] and "root:" not in response.text


def test_an_unknown_format_is_404(client, tune):
    response = client.get(f"/api/tunes/{tune['id']}/exe")
    assert response.status_code == 404 and "format" in response.json()["error"]


def test_a_busy_studio_answers_429(studio, tmp_path):
    started, release = threading.Event(), threading.Event()

    def blocked(request):
        started.set()
        release.wait(30)
        raise FieldError(None, "released")

    busy = Studio(TuneStore(tmp_path))
    busy.generate = blocked  # type: ignore[method-assign]
    with TestClient(create_app(busy, max_busy=1)) as client:
        first: list = []
        worker = threading.Thread(target=lambda: first.append(
            client.post("/api/generate", json={})))
        worker.start()
        assert started.wait(30)
        response = client.post("/api/generate", json={})
        release.set()
        worker.join(30)
    assert response.status_code == 429 and "try again" in response.json()["error"]
    assert first[0].status_code == 400


def test_an_unexpected_failure_is_500_with_a_sentence(tmp_path):
    broken = Studio(TuneStore(tmp_path))

    def fail(request):
        raise RuntimeError("boom")

    broken.generate = fail  # type: ignore[method-assign]
    with TestClient(create_app(broken), raise_server_exceptions=False) as client:
        response = client.post("/api/generate", json={})
    assert response.status_code == 500
    assert "failed" in response.json()["error"] and "Traceback" not in response.text


def test_the_page_and_its_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="generate"' in page.text
    for name in ("studio.js", "studio.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from the network
    models = client.get("/api/models").json()["models"]
    assert [m["id"] for m in models] == ["bundled"] and "path" not in models[0]


def test_parse_request_maps_the_form_to_generate_arguments():
    request = parse_request({"meter": "6/8", "key": "D dorian", "top_k": "5", "bars": "12",
                             "seed": "", "top_p": ""})
    options = request.generate_options()
    assert options["meter"] == "6/8" and str(options["key"]) == "D:dorian"
    assert options["top_k"] == 5 and options["bars"] == 12 and options["top_p"] is None
    assert request.seed is None


def test_the_static_files_ship_with_the_package():
    static = Path(__file__).resolve().parents[2] / "melodyrnn" / "studio" / "static"
    assert {p.name for p in static.iterdir()} >= {"index.html", "studio.js", "studio.css"}
