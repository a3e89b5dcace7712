"""The emulator answers Hume's, Resemble's and Reality Defender's own SDKs (``hume`` 0.13.13, the last
with the batch client; ``resemble`` 1.9.0; ``realitydefender`` 0.1.13). Optional: skipped with a reason
where those SDKs are not installed (they are not batchkit's dependencies; CI installs them):
``pip install hume==0.13.13 resemble==1.9.0 realitydefender==0.1.13``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from batchkit.emulator import EMULATOR_KEY
from tests.patience import wait_until

MODEL_FIELDS = {"face": ("fps_pred", "prob_threshold", "identify_faces", "min_face_size", "save_faces"),
                "prosody": ("granularity", "identify_speakers"), "language": ("granularity", "identify_speakers")}  # fmt: skip


def until_done(get: Any, job_id: str) -> Any:
    jobs = [get(job_id)]

    def ended() -> bool:
        jobs.append(get(job_id))
        return jobs[-1].state.status in ("COMPLETED", "FAILED")

    wait_until(ended, "the emulated job never ended", lambda: jobs[-1].state.status)
    return jobs[-1]


def test_hume_sdk_batch_methods_sync(emu, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    hume = pytest.importorskip("hume", reason="Hume's SDK (hume==0.13.13) is not installed")
    from hume.expression_measurement.batch.types import Face, InferenceBaseRequest, Language, Models, Prosody

    http = httpx.Client(timeout=10)
    request.addfinalizer(http.close)
    client = hume.HumeClient(api_key=EMULATOR_KEY, base_url=emu.base_url, httpx_client=http)
    batch = client.expression_measurement.batch
    models = Models(face=Face(facs={}), prosody=Prosody(), language=Language(sentiment={}))
    url_job = batch.start_inference_job(urls=["https://hume-tutorials.s3.amazonaws.com/faces.zip"], models=models,
                                        text=["Ada met Alan."])  # fmt: skip
    audio = tmp_path / "call.wav"
    audio.write_bytes(b"RIFF" + b"\0" * 100)
    with open(audio, "rb") as fh:
        file_job = batch.start_inference_job_from_local_file(file=[fh], json=InferenceBaseRequest(models=models))
    done = until_done(batch.get_job_details, url_job)
    assert done.state.status == "COMPLETED"
    assert done.state.num_predictions >= 4  # the archive's members and the text
    for model, fields in MODEL_FIELDS.items():
        echoed = getattr(done.request.models, model)
        assert all(getattr(echoed, f) is not None for f in fields), model
    assert done.request.models.face.facs is not None
    until_done(batch.get_job_details, file_job)
    listed = batch.list_jobs(limit=10, status=["COMPLETED"])
    assert {j.job_id for j in listed} == {url_job, file_job}
    [archive, text] = batch.get_job_predictions(url_job)
    members = [p.file for p in archive.results.predictions]
    assert all(m.startswith("faces/") for m in members)
    words = text.results.predictions[0].models.language.grouped_predictions[0].predictions
    assert [w.text for w in words] == ["Ada", "met", "Alan."]
    assert words[0].sentiment
    [local] = batch.get_job_predictions(file_job)
    assert local.source.filename == "call.wav"
    assert b"".join(batch.get_job_artifacts(url_job)).startswith(b"PK")


def test_hume_sdk_batch_methods_async(emu) -> None:
    hume = pytest.importorskip("hume", reason="Hume's SDK (hume==0.13.13) is not installed")

    async def run() -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            await exercise(hume.AsyncHumeClient(api_key=EMULATOR_KEY, base_url=emu.base_url, httpx_client=http))

    async def exercise(client: Any) -> None:
        batch = client.expression_measurement.batch
        job_id = await batch.start_inference_job(text=["I am glad."])
        for _ in range(1000):
            job = await batch.get_job_details(job_id)
            if job.state.status == "COMPLETED":
                break
            await asyncio.sleep(0.02)
        assert job.state.status == "COMPLETED"
        assert [j.job_id for j in await batch.list_jobs()] == [job_id]
        [prediction] = await batch.get_job_predictions(job_id)
        assert prediction.results.predictions[0].models.language is not None
        chunks = [chunk async for chunk in batch.get_job_artifacts(job_id)]
        assert b"".join(chunks).startswith(b"PK")

    asyncio.run(run())


def test_resemble_sdk_get_and_list_with_its_own_auth_header(emu, media) -> None:
    resemble = pytest.importorskip("resemble", reason="Resemble's SDK (resemble==1.9.0) is not installed")
    import requests

    with emu.connect("resemble") as client:
        job = client.wait(client.submit([media("voice.wav"), media("face.png")], options={"intelligence": True}))
    sdk = resemble.Resemble
    sdk.api_key(EMULATOR_KEY)
    sdk.base_url(f"{emu.base_url}/api/")
    assert sdk._headers["Authorization"] == f"Token token={EMULATOR_KEY}"
    for uuid in job.children:
        reply = sdk.v2.deepfake_detection.get(uuid)
        assert reply["success"] is True
        item = reply["item"]
        assert {"media_type", "status", "filename", "url", "audio_url", "media_redacted", "media_deleted",
                "extra_params", "visualize", "intelligence", "created_at", "updated_at"} <= set(item)  # fmt: skip
        assert set(item["intelligence"]) == {"uuid", "description", "created_at", "detect_uuid"}
    listed = requests.get(sdk.endpoint("v2", "detect?page=1&page_size=10"), headers=sdk._headers, timeout=10).json()
    assert listed["total_count"] == 2
    assert {i["uuid"] for i in listed["items"]} == set(job.children)
    sdk.api_key("")
    assert (
        requests.get(sdk.endpoint("v2", f"detect/{job.children[0]}"), headers=sdk._headers, timeout=10).status_code
        == 401
    )


def test_reality_defender_sdk_upload_result_and_list(emu, media) -> None:
    """The SDK's sync methods run their own event loop: called here, from a test with none running."""
    sdk = pytest.importorskip("realitydefender", reason="Reality Defender's SDK (realitydefender==0.1.13) is not"
                                                        " installed")  # fmt: skip
    import datetime as dt

    rd = sdk.RealityDefender(api_key=EMULATOR_KEY, base_url=emu.base_url)
    try:
        fake = rd.upload_sync(str(media("clip-fake.wav", size=2000)))
        plain = rd.upload_sync(str(media("face.png", size=500)))
        assert fake["request_id"]
        assert fake["media_id"]
        done = rd.get_result_sync(fake["request_id"], max_attempts=500, polling_interval=20)
        assert (done["status"], done["score"]) == ("MANIPULATED", 0.934)
        assert {m["name"] for m in done["models"]} == {"rd-aud-ensemble", "rd-marconi-aud"}
        assert rd.get_result_sync(plain["request_id"], max_attempts=500, polling_interval=20)["status"] == "AUTHENTIC"
        today = dt.date.today()
        listed = rd.get_results_sync(page_number=0, size=10, start_date=today, end_date=today)
        assert listed["total_items"] == 2
        assert {r["request_id"] for r in listed["items"]} == {fake["request_id"], plain["request_id"]}
        named = rd.get_results_sync(page_number=0, size=10, name="clip")
        assert [r["request_id"] for r in named["items"]] == [fake["request_id"]]
        with pytest.raises(sdk.RealityDefenderError) as caught:
            sdk.RealityDefender(api_key="", base_url=emu.base_url).upload_sync(str(media("b.wav")))
        assert caught.value.code in ("unauthorized", "invalid_request", "server_error")
    finally:
        rd.cleanup_sync()
    [first, _] = emu.fakes["reality-defender"].uploads.values()
    assert first.keyed, "the SDK sends its key to the signed URL (batchkit does not)"
