"""Provider chains: a fallback chain sends a file on only when the provider before it refused it,
failed it, could not evaluate it, or is out of quota; each provider's create happens once. An
ensemble asks every provider and adds a combined verdict. Chains are chosen by a list, by names
joined with commas (``-p a,b``, ``BATCHKIT_PROVIDER``) or by ``provider = [...]`` in batchkit.toml."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import batchkit
import batchkit.engines
from batchkit import InputError, JobStatus
from batchkit.chains import ChainClient
from batchkit.config import chain_of
from batchkit.emulator import EMULATOR_KEY

RD, RESEMBLE, HIVE = "reality-defender", "resemble", "hive"
FAST_POLL = batchkit.PollSchedule(initial=0.01, factor=1.0, maximum=0.01)


def chain(emu, providers: list[str], **settings) -> ChainClient:
    return batchkit.connect(providers, api_key=EMULATOR_KEY, base_url=emu.base_url, poll=FAST_POLL, **settings)


def test_a_file_the_first_refuses_is_answered_by_the_second_with_one_create_at_each(emu, media) -> None:
    voice, clip = media("voice.wav"), media("clip.mkv")  # Reality Defender takes no .mkv; Resemble does
    with chain(emu, [RD, RESEMBLE]) as client:
        job = client.wait(client.submit([voice, clip]), timeout=60)
        results = client.results(job)
    assert job.status is JobStatus.SUCCEEDED
    assert [(r.source, r.provider, r.status) for r in results] == [
        (str(voice), RD, JobStatus.SUCCEEDED), (str(clip), RESEMBLE, JobStatus.SUCCEEDED)]  # fmt: skip
    assert (emu.created(RD), emu.created(RESEMBLE)) == (1, 1)


def test_files_the_first_cannot_evaluate_or_fails_go_to_the_next(emu, media) -> None:
    files = [media("face-fail-reality-defender.png"), media("no-face.png"), media("clip-fake.wav")]
    with chain(emu, [RD, RESEMBLE]) as client:
        job = client.wait(client.submit(files), timeout=60)
        results = client.results(job)
    assert [r.provider for r in results] == [RESEMBLE, RESEMBLE, RD]
    assert all(r.status is JobStatus.SUCCEEDED for r in results), "fail-reality-defender fails there only"
    assert (emu.created(RD), emu.created(RESEMBLE)) == (3, 1), "the two left over went in one Resemble batch"
    assert [r["verdict"] for r in batchkit.verdicts(results)][2] == "fake"


def test_a_provider_out_of_quota_sends_every_file_on(emu, media) -> None:
    emu.fakes[RD].refusal = "upload-limit-reached"
    with chain(emu, [RD, RESEMBLE]) as client:
        job = client.wait(client.submit([media("a.wav"), media("b.wav")]), timeout=60)
        results = client.results(job)
    assert [r.provider for r in results] == [RESEMBLE, RESEMBLE]
    presigns = [r for r in emu.requests if r.path == "/api/files/aws-presigned"]
    assert len(presigns) == 1, "once out of quota, nothing more is asked of it"
    assert (emu.created(RD), emu.created(RESEMBLE)) == (0, 1)


def test_a_file_every_provider_fails_has_the_last_ones_failure(emu, media) -> None:
    with chain(emu, [HIVE, RD]) as client:
        job = client.wait(client.submit([media("broken-fail.png")]), timeout=60)
        [result] = client.results(job)
    assert job.status is JobStatus.FAILED
    assert (result.provider, result.status) == (RD, JobStatus.FAILED)
    assert result.error.startswith("UNABLE_TO_EVALUATE")


def test_an_ensemble_asks_every_provider_and_combines_their_verdicts(emu, media) -> None:
    photo = media("portrait-fake.png")
    with chain(emu, [HIVE, RD], mode="ensemble") as client:
        job = client.wait(client.submit([photo, media("plain.png")]), timeout=60)
        results = client.results(job)
    assert [(Path(r.source).name, r.provider) for r in results] == [
        ("portrait-fake.png", HIVE), ("portrait-fake.png", RD), ("plain.png", HIVE), ("plain.png", RD)]  # fmt: skip
    rows = [r for r in batchkit.verdicts(results) if r["provider"] == "ensemble"]
    assert [(Path(r["source"]).name, r["verdict"]) for r in rows] == [("portrait-fake.png", "fake"),
                                                                     ("plain.png", "real")]  # fmt: skip
    assert (emu.created(HIVE), emu.created(RD)) == (2, 2)


def test_chains_are_chosen_by_list_commas_or_configuration(emu, tmp_path: Path, monkeypatch) -> None:
    assert chain_of(["a", "b"]) == ["a", "b"]
    assert chain_of("hive, resemble") == ["hive", "resemble"]
    assert chain_of("hive", env={}) is None
    assert chain_of(None, env={"BATCHKIT_PROVIDER": "hive,resemble"}) == ["hive", "resemble"]
    (tmp_path / "batchkit.toml").write_text('provider = ["resemble", "hive"]\n')
    assert chain_of(None, env={}, cwd=tmp_path) == ["resemble", "hive"]
    monkeypatch.setenv("BATCHKIT_PROVIDER", f"{RD},{RESEMBLE}")
    with batchkit.connect(api_key=EMULATOR_KEY, base_url=emu.base_url) as client:
        assert isinstance(client, ChainClient)
        assert client.provider == f"{RD},{RESEMBLE}"
    with pytest.raises(InputError, match="two or more different providers"):
        chain(emu, [HIVE, HIVE])
    with pytest.raises(InputError, match="mode must be one of"):
        chain(emu, [HIVE, RD], mode="vote")
    with pytest.raises(InputError, match="mode= is a chain's setting"):
        batchkit.connect(HIVE, mode="ensemble")


def test_the_cli_takes_a_chain(cli, media) -> None:
    env = {"REALITY_DEFENDER_API_KEY": EMULATOR_KEY}
    ran = cli("--json", "-p", f"{RD},{RESEMBLE}", "submit", str(media("a.wav")), str(media("c.mkv")), "--wait",
              env_update=env)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    [job] = json.loads(ran.stdout)
    assert (job["provider"], job["status"]) == (f"{RD},{RESEMBLE}", "SUCCEEDED")


def test_submit_many_journals_each_providers_part_as_its_own_run(emu, media, tmp_path: Path) -> None:
    from batchkit._kernel.journal import Journal

    journal = str(tmp_path / "j.db")
    voice, clip, odd = media("voice.wav"), media("clip.mkv"), media("odd-fail-reality-defender.wav")
    with chain(emu, [RD, RESEMBLE]) as client:
        job = client.submit_many([voice, clip, odd], journal=journal)
        assert job.status is JobStatus.SUCCEEDED, "submit_many waits"
        results = client.results(job)
    assert [(r.source, r.provider) for r in results] == [(str(voice), RD), (str(clip), RESEMBLE), (str(odd), RESEMBLE)]
    book = Journal(journal)
    providers = sorted(p.run.provider for p in book.runs())
    book.close()
    assert providers == [RD, RD, RESEMBLE], "voice and odd as Reality Defender runs (mkv refused), then Resemble's"
    assert (emu.created(RD), emu.created(RESEMBLE)) == (2, 1)


def test_a_provider_refusing_the_key_sends_the_files_on(emu, media) -> None:
    emu.faults.add("POST /api/v2/detect/batch", "status", status=401)
    with chain(emu, [RESEMBLE, RD]) as client:
        job = client.wait(client.submit([media("a.wav")]), timeout=60)
        [result] = client.results(job)
    assert (result.provider, result.status) == (RD, JobStatus.SUCCEEDED)
    assert (emu.created(RESEMBLE), emu.created(RD)) == (0, 1)


# -- the async chain: the same logic, awaited --------------------------------------------------------


def _async_chain(emu, providers: list[str], **settings) -> batchkit.AsyncChainClient:
    return batchkit.connect_async(providers, api_key=EMULATOR_KEY, base_url=emu.base_url, poll=FAST_POLL, **settings)


def test_an_async_fallback_chain_answers_a_refused_file_at_the_next_with_one_create_at_each(emu, media) -> None:
    voice, clip = media("voice.wav"), media("clip.mkv")

    async def scenario() -> tuple[batchkit.BatchJob, list[batchkit.FileResult]]:
        async with _async_chain(emu, [RD, RESEMBLE]) as client:
            assert repr(client) == f"<batchkit.AsyncChainClient fallback {RD},{RESEMBLE}>"
            job = await client.wait(await client.submit([voice, clip]), timeout=60)
            return job, await client.results(job)

    job, results = asyncio.run(scenario())
    assert job.status is JobStatus.SUCCEEDED
    assert [(r.source, r.provider, r.status) for r in results] == [
        (str(voice), RD, JobStatus.SUCCEEDED), (str(clip), RESEMBLE, JobStatus.SUCCEEDED)]  # fmt: skip
    assert (emu.created(RD), emu.created(RESEMBLE)) == (1, 1)


def test_an_async_ensemble_and_an_async_submit_many(emu, media, tmp_path: Path) -> None:
    photo, plain = media("portrait-fake.png"), media("plain.png")
    voice, odd = media("voice.wav"), media("odd-fail-reality-defender.wav")

    async def scenario() -> tuple[list[batchkit.FileResult], list[batchkit.FileResult]]:
        async with _async_chain(emu, [HIVE, RD], mode="ensemble") as ensemble:
            both = await ensemble.results(await ensemble.wait(await ensemble.submit([photo, plain]), timeout=60))
        async with _async_chain(emu, [RD, RESEMBLE]) as fallback:
            many = await fallback.results(await fallback.submit_many([voice, odd], journal=tmp_path / "j.db"))
        return both, many

    both, many = asyncio.run(scenario())
    assert [(Path(r.source).name, r.provider) for r in both] == [
        ("portrait-fake.png", HIVE), ("portrait-fake.png", RD), ("plain.png", HIVE), ("plain.png", RD)]  # fmt: skip
    assert [(r.source, r.provider) for r in many] == [(str(voice), RD), (str(odd), RESEMBLE)]


def test_an_async_chain_is_chosen_as_a_sync_one_is(emu, monkeypatch) -> None:
    monkeypatch.setenv("BATCHKIT_PROVIDER", f"{RD},{RESEMBLE}")

    async def scenario() -> None:
        async with batchkit.connect_async(api_key=EMULATOR_KEY, base_url=emu.base_url) as client:
            assert isinstance(client, batchkit.AsyncChainClient)
        async with batchkit.connect_async(RESEMBLE, api_key=EMULATOR_KEY, base_url=emu.base_url) as one:
            assert isinstance(one, batchkit.AsyncClient)
        with pytest.raises(InputError, match="mode= is a chain's setting"):
            batchkit.connect_async(HIVE, mode="ensemble")
        with pytest.raises(InputError, match="not a job of this chain"):
            async with _async_chain(emu, [HIVE, RD]) as other:
                await other.wait("chain-0000")

    asyncio.run(scenario())


# -- chains in the journal: enqueued, carried on by workers ----------------------------------------


def _providers_and_states(results: list[batchkit.FileResult]) -> list[tuple[str, str, JobStatus]]:
    return [(Path(r.source).name, r.provider, r.status) for r in results]


def test_an_enqueued_fallback_chain_is_carried_on_by_workers_and_never_pays_twice(emu, media, journal_url) -> None:
    journal = journal_url
    files = [media("voice.wav"), media("clip.mkv"), media("face-fail-reality-defender.png"), media("no-face.png")]
    with chain(emu, [RD, RESEMBLE]) as client, chain(emu, [RD, RESEMBLE]) as other:
        run = client.enqueue(files, journal=journal)
        assert client.enqueue(files, journal=journal) == run, "the same files and chain: the same run"
        with ThreadPoolExecutor(2) as pool:  # two workers of the chain at once
            done = batchkit.engines.summed(list(pool.map(lambda c: c.work(journal, until_done=True), [client, other])))
        assert client.work(journal, until_done=True).progressed is False, "nothing is left to do"
        with pytest.raises(InputError, match="until_done=True"):
            client.work(journal)
        with pytest.raises(InputError, match="not chunk"):
            client.enqueue(files, journal=journal, chunk=2)
    assert _providers_and_states(batchkit.runs.results(journal, run)) == [
        ("voice.wav", RD, JobStatus.SUCCEEDED), ("clip.mkv", RESEMBLE, JobStatus.SUCCEEDED),
        ("face-fail-reality-defender.png", RESEMBLE, JobStatus.SUCCEEDED),
        ("no-face.png", RESEMBLE, JobStatus.SUCCEEDED)]  # fmt: skip
    assert (emu.created(RD), emu.created(RESEMBLE)) == (3, 3), "the .mkv was refused before anything was sent"
    assert (done.failed, done.finished) == (1, 6), "the refusal, then every job at both providers"
    progress = batchkit.runs.progress(journal)
    assert [(p.run.provider, p.run.files) for p in progress] == [(RD, 4), (RESEMBLE, 3)]
    assert all(p.settled for p in progress)


def test_a_chain_enqueued_from_the_cli_is_worked_by_one_chain_worker(cli, media, tmp_path: Path) -> None:
    env = {"REALITY_DEFENDER_API_KEY": EMULATOR_KEY}
    journal = str(tmp_path / "j.db")
    names = ",".join([RD, RESEMBLE])
    enqueued = cli("-p", names, "enqueue", str(media("a.wav")), str(media("c.mkv")), "--journal", journal,
                   env_update=env)  # fmt: skip
    assert enqueued.returncode == 0, enqueued.stderr
    run = enqueued.stdout.split()[-1]
    worked = cli("-p", names, "worker", "--journal", journal, "--until-done", "--progress-every", "0", env_update=env)
    assert worked.returncode == 0, worked.stderr
    assert f"worker for {RD}, {RESEMBLE}" in worked.stderr
    rows = cli("--json", "results", "--journal", journal, "--run", run, env_update=env)
    assert rows.returncode == 0, rows.stderr
    assert [(Path(r["source"]).name, r["provider"], r["status"]) for r in json.loads(rows.stdout)] == [
        ("a.wav", RD, "SUCCEEDED"), ("c.mkv", RESEMBLE, "SUCCEEDED")]  # fmt: skip


def test_an_enqueued_ensemble_is_a_run_at_each_provider_read_file_by_file(emu, media, tmp_path: Path) -> None:
    journal = str(tmp_path / "j.db")
    with chain(emu, [HIVE, RD], mode="ensemble") as client:
        run = client.enqueue([media("portrait-fake.png"), media("plain.png")], journal=journal)
        client.work(journal, until_done=True)
    results = batchkit.runs.results(journal, run)
    assert _providers_and_states(results) == [
        ("portrait-fake.png", HIVE, JobStatus.SUCCEEDED), ("portrait-fake.png", RD, JobStatus.SUCCEEDED),
        ("plain.png", HIVE, JobStatus.SUCCEEDED), ("plain.png", RD, JobStatus.SUCCEEDED)]  # fmt: skip
    rows = [r for r in batchkit.verdicts(results) if r["provider"] == "ensemble"]
    assert [r["verdict"] for r in rows] == ["fake", "real"]
    assert (emu.created(HIVE), emu.created(RD)) == (2, 2)


def test_an_async_chain_enqueues_and_works_as_the_sync_one(emu, media, tmp_path: Path) -> None:
    journal = str(tmp_path / "j.db")
    voice, clip = media("voice.wav"), media("clip.mkv")

    async def scenario() -> str:
        async with _async_chain(emu, [RD, RESEMBLE]) as client:
            run = await client.enqueue([voice, clip], journal=journal)
            await client.work(journal, until_done=True)
            return run

    run = asyncio.run(scenario())
    assert _providers_and_states(batchkit.runs.results(journal, run)) == [
        ("voice.wav", RD, JobStatus.SUCCEEDED), ("clip.mkv", RESEMBLE, JobStatus.SUCCEEDED)]  # fmt: skip
    assert (emu.created(RD), emu.created(RESEMBLE)) == (1, 1)


def test_a_provider_that_answers_in_its_reply_is_refused_in_an_enqueued_fallback_chain(emu, media, tmp_path) -> None:
    journal = str(tmp_path / "j.db")
    with chain(emu, [RD, HIVE]) as client, pytest.raises(InputError, match="hive answers in its reply"):
        client.enqueue([media("a.wav")], journal=journal)
    assert emu.requests == [], "refused before anything was sent"


def test_an_enqueued_chain_hands_files_on_while_its_first_provider_is_down(emu, media, tmp_path: Path) -> None:
    """A create refused by a 5xx that made nothing (Reality Defender's presign), retries spent: the worker
    hands the file to the next provider instead of waiting for the first to come back."""
    journal = str(tmp_path / "j.db")
    emu.faults.add("POST /api/files/aws-presigned", "status", status=503, times=100)
    with chain(emu, [RD, RESEMBLE], retry=batchkit.RetryPolicy(max_retries=1, backoff_base=0.01)) as client:
        run = client.enqueue([media("voice.wav")], journal=journal)
        client.work(journal, until_done=True)
    [result] = batchkit.runs.results(journal, run)
    assert (result.provider, result.status) == (RESEMBLE, JobStatus.SUCCEEDED)
    assert (emu.created(RD), emu.created(RESEMBLE)) == (0, 1)
