"""The reality-defender provider against its emulator fake: presign, a streamed PUT without the key,
polling, statuses, typed plan errors, limits checked before anything is sent, an interrupted upload
found again by the requestId journaled at intent, the scan list, and signed URLs never shown."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

import batchkit
from batchkit import InputError, JobStatus
from batchkit._kernel.journal import ChunkState
from batchkit.emulator import FaultKind
from batchkit.providers.reality_defender import PlanLimitError, RealityDefenderProvider, Scan
from batchkit.providers.reality_defender.wire import to_job, to_result
from tests.test_presigned_provider import crash_after_the_bytes_went
from tests.test_workers import stored_bytes

RD = "reality-defender"
SECRETS = ("X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token")


def uploads(emu: Any) -> list[Any]:
    return list(emu.fakes[RD].uploads.values())


def test_submit_wait_results_stream_the_file_without_the_key(emulated, emu, media, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = emulated(RD)
    photo = media("team photo.png", size=5000)
    job = client.wait(client.submit([photo]), timeout=30)
    assert (job.status, job.provider_status) == (JobStatus.SUCCEEDED, "AUTHENTIC")
    [result] = client.results(job)
    assert isinstance(result.prediction, Scan)
    assert result.prediction.verdict == "AUTHENTIC"
    assert 0.01 <= result.prediction.score <= 0.4
    assert [m.name for m in result.prediction.models] == ["rd-img-ensemble", "rd-elm-img", "rd-pine-img"]
    [upload] = uploads(emu)
    assert (upload.size, upload.keyed, upload.name) == (5000, False, "team_photo.png")
    assert emu.created(RD) == 1
    [put] = [r for r in emu.requests if r.method == "PUT"]
    assert all(s in put.query for s in SECRETS), "the emulator's URL is signed like S3's"
    assert not any(s in caplog.text for s in SECRETS), "a presigned URL's query was logged"


@pytest.mark.parametrize(("name", "status", "verdict", "score"), [
    ("clip-fake.wav", JobStatus.SUCCEEDED, "FAKE", 0.934),
    ("clip-suspicious.mp4", JobStatus.SUCCEEDED, "SUSPICIOUS", 0.55),
    ("no-face.jpg", JobStatus.FAILED, None, None),
    ("clip-fail.wav", JobStatus.FAILED, None, None),
])  # fmt: skip
def test_each_ending_is_a_result_that_says_why(emu, media, name, status, verdict, score) -> None:
    with emu.connect(RD, poll=batchkit.PollSchedule(initial=0.01, factor=1.0, maximum=0.01)) as client:
        job = client.wait(client.submit([media(name)]), timeout=30)
        [result] = client.results(job)
    assert (job.status, result.status) == (status, status)
    assert result.prediction.verdict == verdict
    assert result.prediction.score == score
    if name.startswith("no-face"):
        assert result.error == "NOT_APPLICABLE: relevance: no faces detected/faces too small"
        assert job.message == result.error
    if "fail" in name:
        assert result.error.startswith("UNABLE_TO_EVALUATE: an error occurred")


def test_in_progress_replies_are_running_and_the_sdk_aliases_read_as_fake() -> None:
    downloading = {"requestId": "r", "overallStatus": "DOWNLOADING", "resultsSummary": None, "models": []}
    analyzing = {"requestId": "r", "resultsSummary": {"status": "ANALYZING", "metadata": {"finalScore": None}}}
    assert to_job(downloading).status is to_job(analyzing).status is JobStatus.RUNNING
    assert to_job({"requestId": "r", "overallStatus": "PROCESSING"}).status is JobStatus.UNKNOWN
    manipulated = to_result({"requestId": "r", "resultsSummary": {"status": "MANIPULATED",
                                                                  "metadata": {"finalScore": 88}}})  # fmt: skip
    assert (manipulated.status, manipulated.prediction.status, manipulated.prediction.score) == (
        JobStatus.SUCCEEDED, "FAKE", 0.88)
    odd = to_result({"requestId": "r", "resultsSummary": {"status": "NOT_APPLICABLE", "metadata": {}},
                     "models": [{"name": "m", "status": "NOT_APPLICABLE",
                                 "predictionNumber": {"reason": "relevance: no faces", "decision": "NOT_EVALUATED"}}]})  # fmt: skip
    assert odd.error == "NOT_APPLICABLE: relevance: no faces"


def test_a_scan_not_found_yet_is_queued(emu) -> None:
    with emu.connect(RD) as client:
        job = client.get("d0e0f670-6fb9-4bfe-bfc8-c3cd4a7906fb")
    assert (job.status, job.provider_status) == (JobStatus.QUEUED, "NOT_FOUND")


@pytest.mark.parametrize("code", ["free-tier-not-allowed", "upload-limit-reached"])
def test_plan_refusals_are_typed_and_nothing_is_uploaded(emulated, emu, media, code) -> None:
    emu.fakes[RD].refusal = code
    client = emulated(RD)
    with pytest.raises(PlanLimitError) as caught:
        client.submit([media("a.wav")])
    assert (caught.value.code, caught.value.status_code) == (code, 400)
    assert isinstance(caught.value, batchkit.PermissionDeniedError)
    assert f"emulated plan refusal: {code}" in str(caught.value)
    assert not [r for r in emu.requests if r.method == "PUT"]
    assert emu.created(RD) == 0


def test_limits_and_names_are_checked_before_anything_is_sent(emu, media, tmp_path: Path) -> None:
    big = tmp_path / "big.wav"
    with open(big, "wb") as fh:
        fh.truncate(20_971_521)  # sparse: one byte over the audio limit
    cases = {
        "extension '.pdf' is not accepted": [media("doc.pdf")],
        "over the 20971520-byte limit of audio": [big],
        "the file is empty": [media("empty.wav", content=b"")],
        "over the 200 a scan's name may have": [media("n" * 201 + ".wav")],
        "a scan is of one file, 2 given": [media("a.wav"), media("b.wav")],
    }
    with emu.connect(RD) as client:
        for says, files in cases.items():
            with pytest.raises(InputError, match=says):
                client.submit(files)
        with pytest.raises(InputError, match="sends no callbacks"):
            client.submit([media("a.wav")], callback_url="https://example.com/hook")
        with pytest.raises(InputError, match="no urls"):
            client.submit(urls=["https://example.com/a.wav"])
    assert emu.requests == []


def test_an_interrupted_upload_is_found_by_the_request_id_journaled_at_intent(emu, media, tmp_path: Path,
                                                                              monkeypatch) -> None:  # fmt: skip
    journal = str(tmp_path / "j.db")
    poll = batchkit.PollSchedule(initial=0.01, factor=1.0, maximum=0.01)
    with emu.connect(RD, poll=poll) as client:
        run = client.enqueue([media("a-fake.wav"), media("b.wav")], journal=journal)
        first = crash_after_the_bytes_went(client, journal, run, monkeypatch)[0]
        assert first.state == ChunkState.SENDING
        assert first.job_id == uploads(emu)[0].request_id
        summary = client.work(journal, until_done=True)
    assert (summary.adopted, summary.sent, summary.finished) == (1, 1, 2)
    assert emu.created(RD) == 2, "no second upload for the interrupted one"
    assert len(uploads(emu)) == 2, "no second presign for the interrupted one"
    results = batchkit.runs.results(journal, run)
    assert [(r.status, r.prediction.status) for r in results] == [(JobStatus.SUCCEEDED, "FAKE"),
                                                                  (JobStatus.SUCCEEDED, "AUTHENTIC")]  # fmt: skip
    stored = stored_bytes(journal)
    assert not any(s.encode() in stored for s in SECRETS)
    assert b"someone@example.com" not in stored


def test_a_scan_whose_bytes_never_arrived_is_sent_again_under_a_new_request_id(emu, media, tmp_path: Path,
                                                                               monkeypatch) -> None:  # fmt: skip
    journal = str(tmp_path / "j.db")
    with emu.connect(RD, poll=batchkit.PollSchedule(initial=0.01, factor=1.0, maximum=0.01)) as client:
        run = client.enqueue([media("a-fake.wav")], journal=journal)
        [first] = crash_after_the_bytes_went(client, journal, run, monkeypatch, before_the_bytes="intend")
        assert first.state == ChunkState.SENDING
        assert first.job_id == uploads(emu)[0].request_id
        summary = client.work(journal, until_done=True, settle=0.2)  # a 404 for its id: certainly not there
    assert (summary.adopted, summary.sent) == (0, 1)
    assert [r.method for r in emu.requests if r.method in ("POST", "PUT")] == ["POST", "POST", "PUT"]
    [result] = batchkit.runs.results(journal, run)
    assert (result.status, result.prediction.status) == (JobStatus.SUCCEEDED, "FAKE")
    assert not any(s.encode() in stored_bytes(journal) for s in SECRETS)


def test_a_lost_put_reply_is_never_sent_again_and_the_scan_is_adopted(emu, media, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    journal = str(tmp_path / "j.db")
    emu.faults.add("PUT /_s3/*", FaultKind.DROP_AFTER_BODY)
    with emu.connect(RD, poll=batchkit.PollSchedule(initial=0.01, factor=1.0, maximum=0.01)) as client:
        group = client.submit_many([media("a.wav")], journal=journal, wait=True)
        [result] = client.results(group)
        emu.faults.add("PUT /_s3/*", FaultKind.DROP_AFTER_BODY)
        second = media("b.wav")
        with pytest.raises(batchkit.AmbiguousSubmissionError) as caught:  # without a journal: says its id
            client.submit([second])
    assert result.status is JobStatus.SUCCEEDED
    assert len([r for r in emu.requests if r.method == "PUT"]) == 2
    assert emu.created(RD) == 2
    assert uploads(emu)[1].request_id in str(caught.value)
    text = caplog.text + str(caught.value) + repr(caught.value)
    assert not any(s in text for s in SECRETS)
    assert not any(s.encode() in stored_bytes(journal) for s in SECRETS)


def test_an_expired_url_is_a_typed_refusal_without_the_url(emu, media) -> None:
    emu.fakes[RD].expired = True
    with emu.connect(RD) as client, pytest.raises(batchkit.PermissionDeniedError) as caught:
        client.submit([media("a.wav")])
    assert "Request has expired" in str(caught.value)
    assert not any(s in str(caught.value) + repr(caught.value) for s in SECRETS)


def scanned(emu, media, monkeypatch, names: tuple[str, ...]) -> Any:
    """A client (pages of 2 scans) that has scanned ``names``, one scan each, all finished."""
    monkeypatch.setattr("batchkit.providers.reality_defender.PAGE_SIZE", 2)
    client = emu.connect(RD, poll=batchkit.PollSchedule(initial=0.01, factor=1.0, maximum=0.01))
    for name in names:
        client.wait(client.submit([media(name)]), timeout=30)
    return client


def test_the_scan_list_asks_each_page_only_when_it_is_iterated_that_far(emu, media, monkeypatch) -> None:
    with scanned(emu, media, monkeypatch, ("one.wav", "two.wav", "three.wav", "four.wav", "five.wav")) as client:
        pages = lambda: len([r for r in emu.requests if "/pages/" in r.path])  # noqa: E731
        before = pages()
        scans = client.list(limit=4)
        assert pages() == before  # nothing asked yet
        first = [next(scans), next(scans)]
        assert pages() == before + 1
        rest = list(scans)
        assert (pages(), len(first + rest), len({j.id for j in first + rest})) == (before + 2, 4, 4)


def test_the_scan_list_pages_and_filters(emu, media, monkeypatch) -> None:
    names = ("one.wav", "two-fake.wav", "three.wav", "four-fake.wav", "five.png")
    with scanned(emu, media, monkeypatch, names) as client:
        every = list(client.list(limit=10))
        fakes = list(client.list(limit=10, name="FAKE"))
        today = __import__("datetime").date.today()
        dated = list(client.list(limit=3, start_date=today.isoformat(), end_date=today))
        none = list(client.list(limit=10, end_date="2001-01-01"))
        with pytest.raises(InputError, match="unknown filter 'colour'"):
            next(client.list(limit=1, colour="red"))  # at the first step, before anything is sent
        with pytest.raises(InputError, match="end_date must be a date"):
            next(client.list(limit=1, end_date="yesterday"))
    assert len(every) == 5
    assert all(j.status is JobStatus.SUCCEEDED for j in every)
    assert sorted(j.raw["originalFileName"] for j in fakes) == ["four-fake.wav", "two-fake.wav"]
    assert len(dated) == 3
    assert none == []
    pages = [r.path for r in emu.requests if r.path.startswith("/api/v2/media/users/pages/")]
    assert "/api/v2/media/users/pages/2" in pages, "the list was read page by page"


def test_the_provider_repr_and_errors_hold_no_key(emu, media) -> None:
    provider = RealityDefenderProvider("https://api.prd.realitydefender.xyz")
    assert provider.auth_headers("k") == {"X-API-KEY": "k"}
    with batchkit.connect(RD, api_key="secret-rd-key", base_url=emu.base_url) as client:
        assert "secret-rd-key" not in repr(client)
