"""Hume behaviour end to end through the emulator, over real sockets, for both clients."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

import batchkit
from batchkit import JobStatus
from batchkit.providers.hume.options import HumeOptions, Models, Prosody


def test_files_urls_and_text_complete_with_typed_predictions(emulated, emu, media, tmp_path: Path) -> None:
    client = emulated("hume")
    job = client.submit(
        [media("call.wav", 5000), media("face.jpg")], urls=["https://e.x/clip.mp4"], text=["I am happy"]
    )
    assert job.status is JobStatus.QUEUED
    done = client.wait(job)
    assert done.status is JobStatus.SUCCEEDED
    assert (done.total_count, done.succeeded_count, done.failed_count) == (4, 4, 0)

    results = {Path(r.source).name if r.source.startswith("/") else r.source: r for r in client.results(done)}
    assert list(results) == ["https://e.x/clip.mp4", "call.wav", "face.jpg", "text[0]"]
    assert results["call.wav"].source == str(media("call.wav", 5000)), "a file is named by its path as given"
    audio = results["call.wav"].prediction
    assert audio.source.md5sum is not None
    prosody = audio.results.predictions[0].models.prosody
    assert len(prosody.grouped_predictions[0].predictions) == emu.config.frames
    assert len(prosody.grouped_predictions[0].predictions[0].emotions) == 48
    assert results["face.jpg"].prediction.results.predictions[0].models.face is not None

    folder = client.download_artifacts(done, tmp_path / "art", extract=True)
    assert sorted(p.name for p in folder.iterdir()) == [
        "burst.csv",
        "face.csv",
        "facemesh.csv",
        "language.csv",
        "ner.csv",
        "prosody.csv",
    ]


def test_models_option_limits_what_runs(emulated, media) -> None:
    client = emulated("hume")
    job = client.wait(client.submit([media("call.wav")], options=HumeOptions(models=Models(prosody=Prosody()))))
    [result] = client.results(job)
    models = result.prediction.results.predictions[0].models
    assert models.prosody is not None
    assert models.burst is None


def test_partial_and_total_failure(emulated, media) -> None:
    client = emulated("hume")
    partial = client.wait(client.submit([media("ok.wav"), media("fail.wav")]))
    assert partial.status is JobStatus.PARTIALLY_FAILED
    assert [r.status for r in client.results(partial)] == [JobStatus.SUCCEEDED, JobStatus.FAILED]
    everything = client.wait(client.submit([media("fail1.wav"), media("fail2.wav")]))
    assert everything.status is JobStatus.FAILED
    assert everything.provider_status == "COMPLETED"
    failed = client.wait(client.submit(text=["fail-job please"]))
    assert (failed.status, failed.provider_status, failed.message) == (
        JobStatus.FAILED,
        "FAILED",
        "job failed: emulated failure",
    )


def test_list_filters(emulated, emu) -> None:
    client = emulated("hume")
    emu.config.run_seconds = 60
    running = client.submit(text=["a"])
    emu.config.run_seconds = 0
    done = client.wait(client.submit(text=["b"]))
    assert [j.id for j in client.list(status=JobStatus.SUCCEEDED)] == [done.id]
    assert {j.id for j in client.list()} == {running.id, done.id}
    assert len(list(client.list(limit=1))) == 1
    oldest_first = client.list(sort_by="created", direction="asc")
    assert [j.id for j in oldest_first] == [running.id, done.id]


@pytest.mark.parametrize("clock", ["real", "fake"])
def test_list_pages_back_in_time_to_the_limit(emulated, emu, monkeypatch, clock: str) -> None:
    """Hume has no cursor: pages are followed by creation time, ties kept (on a fake clock every job is
    made in the same millisecond), and ``limit`` is the number wanted in all."""
    import batchkit.providers.hume as hume
    from batchkit._kernel.clock import FakeClock

    monkeypatch.setattr(hume, "PAGE_SIZE", 2)
    client = emulated("hume", **({"clock": FakeClock()} if clock == "fake" else {}))
    made = [client.submit(text=[str(n)]).id for n in range(5)]
    lists = len([r for r in emu.requests if r.method == "GET"])
    assert {j.id for j in client.list()} == set(made)
    assert len([r for r in emu.requests if r.method == "GET"]) - lists >= 3  # pages of 2
    newest = list(client.list(limit=4))
    assert len(newest) == len({j.id for j in newest}) == 4
    assert [j.created_at for j in newest] == sorted((j.created_at for j in newest), reverse=True)


def test_predictions_before_completion_are_a_typed_error(emulated, emu) -> None:
    emu.config.run_seconds = 60
    client = emulated("hume")
    job = client.submit(text=["a"])
    for ref in (job, job.id):
        with pytest.raises(batchkit.JobNotFinishedError, match="has not finished") as info:
            client.results(ref)
        assert info.value.job.status in (JobStatus.QUEUED, JobStatus.RUNNING)
    with pytest.raises(batchkit.NotFoundError):
        client.get("no-such-job")


def test_zip_of_local_media_is_one_source(emulated, tmp_path: Path) -> None:
    archive = tmp_path / "faces.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.jpg", b"1")
    client = emulated("hume")
    job = client.wait(client.submit(zip=archive))
    assert [r.source for r in client.results(job)] == ["faces.zip"]


def test_wrong_key_is_authentication_error(emulated, emu) -> None:
    emu.config.api_keys = {"hume": frozenset({"the-right-key"})}
    with pytest.raises(batchkit.AuthenticationError, match="Invalid ApiKey"):
        emulated("hume").get("x")


def test_request_echoes_the_service_defaults_and_the_transcription(emulated, emu) -> None:
    client = emulated("hume")
    options = {"models": {"face": {"facs": True}, "prosody": {}, "language": {"sentiment": True}, "ner": {}},
               "transcription": {"language": "en"}}  # fmt: skip
    job = client.get(client.submit(text=["x"], options=options))
    request = job.raw["request"]
    assert request["models"] == {
        "face": {"fps_pred": 3, "prob_threshold": 0.99, "identify_faces": False, "min_face_size": 60,
                 "save_faces": False, "facs": {}, "descriptions": None},
        "prosody": {"granularity": "utterance", "identify_speakers": False, "window": None},
        "language": {"granularity": "word", "identify_speakers": False, "sentiment": {}, "toxicity": None},
        "ner": {"identify_speakers": False},
    }  # fmt: skip
    assert request["transcription"] == {"language": "en"}
    every = client.get(client.submit(text=["x"], options={"transcription": None})).raw["request"]
    assert set(every["models"]) == {"face", "burst", "prosody", "language", "ner", "facemesh"}
    assert every["transcription"] is None


def test_an_archive_url_has_one_prediction_per_member(emulated, emu) -> None:
    client = emulated("hume")
    url = "https://hume-tutorials.s3.amazonaws.com/faces.zip"
    job = client.wait(client.submit(urls=[url], options={"models": {"face": {}}}))
    [result] = client.results(job)
    files = [p.file for p in result.prediction.results.predictions]
    assert job.succeeded_count == len(files) >= 3
    assert all(f.startswith("faces/") and f.endswith(".jpg") for f in files)
    again = client.wait(client.submit(urls=[url], options={"models": {"face": {}}}))
    assert [p.file for p in client.results(again)[0].prediction.results.predictions] == files, "deterministic"


def test_options_shape_the_predictions(emulated, emu, media) -> None:
    client = emulated("hume")
    options = {"models": {"face": {"facs": True, "descriptions": True, "identify_faces": True},
                          "language": {"granularity": "sentence", "sentiment": True, "toxicity": True}, "ner": {}}}  # fmt: skip
    job = client.wait(client.submit([media("clip.mp4")], text=["Ada met Alan. They talked."], options=options))
    clip, text = client.results(job)
    face = clip.prediction.results.predictions[0].models.face
    assert {g.id for g in face.grouped_predictions} == {"face_0", "face_1"}
    first = face.grouped_predictions[0].predictions[0]
    assert len(first.facs) == 8
    assert len(first.descriptions) == 6
    models = text.prediction.results.predictions[0].models
    assert [p.text for p in models.language.grouped_predictions[0].predictions] == ["Ada met Alan.", "They talked."]
    assert all(p.sentiment for p in models.language.grouped_predictions[0].predictions)
    assert all(p.toxicity for p in models.language.grouped_predictions[0].predictions)
    assert [p.entity for p in models.ner.grouped_predictions[0].predictions] == ["Ada", "Alan.", "They"]
    words = client.wait(client.submit(text=["Ada met Alan."], options={"models": {"language": {}}}))
    [result] = client.results(words)
    assert [
        p.text for p in result.prediction.results.predictions[0].models.language.grouped_predictions[0].predictions
    ] == ["Ada", "met", "Alan."]


def test_results_come_in_the_order_given_and_texts_are_named(emulated, emu, media) -> None:
    client = emulated("hume")
    job = client.wait(client.submit([media("b.wav"), media("a.jpg")], urls=["https://e.x/z.mp4", "https://e.x/y.mp4"],
                                    text=["one", "two", "three"]))  # fmt: skip
    assert [r.source for r in client.results(job)] == [
        "https://e.x/z.mp4", "https://e.x/y.mp4", str(media("b.wav")), str(media("a.jpg")), "text[0]", "text[1]",
        "text[2]"]  # fmt: skip


def test_iter_results_streams_each_input(emulated, emu, media) -> None:
    client = emulated("hume")
    job = client.wait(client.submit([media("a.wav")], urls=["https://e.x/faces.zip"], text=["one", "two"]))
    streamed = list(client.iter_results(job))
    assert [r.source for r in streamed] == [r.source for r in client.results(job.id)]
    assert {r.source for r in streamed} >= {"text[0]", "text[1]", str(media("a.wav"))}
    assert all(r.provider == "hume" for r in streamed)
    emu.config.run_seconds = 60
    with pytest.raises(batchkit.JobNotFinishedError):
        list(client.iter_results(client.submit(text=["late"])))


def test_iter_results_without_ijson_falls_back(emulated, emu, monkeypatch) -> None:
    import batchkit._orchestration.operations as operations

    monkeypatch.setattr(operations, "streaming_available", lambda: False)
    client = emulated("hume")
    job = client.wait(client.submit(text=["one", "two"]))
    assert [r.source for r in list(client.iter_results(job))] == ["text[0]", "text[1]"]
