"""What a new user hit, tried as a new user would: clear words, checks before uploads, pointers onward."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpx import HTTPXMock

import batchkit
from batchkit import config
from batchkit.cli.commands import run


def test_a_missing_provider_names_every_way_to_give_one(tmp_path: Path) -> None:
    with pytest.raises(batchkit.ConfigError) as info:
        config.resolve(env={}, cwd=tmp_path)
    message = str(info.value)
    for hint in ("-p/--provider", "BATCHKIT_PROVIDER", "batchkit.toml", "hume", "resemble"):
        assert hint in message


@pytest.mark.parametrize(("text", "message"), [
    ('provider = "hume"\ntimout = 60\n', "unknown key 'timout'; did you mean 'timeout'?"),
    ('provider = "hume"\n[hume]\nbase_ulr = "https://x.test"\n', "unknown key [hume] 'base_ulr'; did you mean 'base_url'?"),
    ('provider = "hume"\nallow_insecure = true\n', "unknown key 'allow_insecure'"),
])  # fmt: skip
def test_unknown_keys_in_batchkit_toml_are_named(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "batchkit.toml").write_text(text)
    with pytest.raises(batchkit.ConfigError, match=r"batchkit\.toml") as info:
        config.resolve(env={"HUME_API_KEY": "k"}, cwd=tmp_path)
    assert message in str(info.value)


@pytest.mark.parametrize(("provider", "count"), [("resemble", 51), ("hume", 101)])
def test_too_many_files_point_to_submit_many(make_client, httpx_mock: HTTPXMock, media, provider, count) -> None:
    files = [media(f"f{i}.wav") for i in range(count)]
    with pytest.raises(batchkit.InputError, match=r"submit_many\(files, journal=\.\.\.\)"):
        make_client(provider).submit(files)


@pytest.mark.parametrize("args", [["missing.wav"], ["notes.txt"], ["a.wav", "--option", "frame_length=9"]])
def test_the_cli_says_uploading_only_when_bytes_go_out(args, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "a.wav").write_bytes(b"x" * 100)
    monkeypatch.setenv("RESEMBLE_API_KEY", "k")
    assert run(["-p", "resemble", "submit", *args]) == 3
    assert "uploading" not in capsys.readouterr().err


def test_unsupported_operations_are_usage_errors_in_the_cli(monkeypatch, capsys) -> None:
    monkeypatch.setenv("RESEMBLE_API_KEY", "k")
    assert run(["-p", "resemble", "jobs"]) == 3
    assert "no list of jobs" in capsys.readouterr().err


@pytest.mark.parametrize(("options", "message"), [
    ({"models": {"prosody": {"granularity": "words"}}},
     "models.prosody.granularity: 'words' is not one of word, sentence, utterance, conversational_turn; did you mean 'word'?"),
    ({"models": {"prosidy": {}}}, "models: unknown option 'prosidy'; did you mean 'prosody'?"),
    ({"models": {"face": {"fps_pred": -1}}}, "models.face.fps_pred: expected a number > 0"),
])  # fmt: skip
def test_option_errors_are_said_in_words(make_client, httpx_mock: HTTPXMock, options, message) -> None:
    with pytest.raises(batchkit.InputError) as info:
        make_client("hume").submit(text=["x"], options=options)
    assert message in str(info.value)


def test_options_built_by_hand_raise_input_errors() -> None:
    from batchkit.providers.hume.options import Face, Prosody
    from batchkit.providers.resemble.options import ResembleOptions

    for build in (lambda: Prosody(granularity="words"), lambda: Face(prob_threshold=2),
                  lambda: ResembleOptions(frame_length=9), lambda: ResembleOptions(start_region=5, end_region=1)):  # fmt: skip
        with pytest.raises(batchkit.InputError):
            build()


def test_ctrl_c_while_waiting_says_how_to_resume(emu, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HUME_API_KEY", "k")
    monkeypatch.setenv("BATCHKIT_BASE_URL", emu.base_url)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(batchkit.Client, "wait_all", interrupted)
    assert run(["-p", "hume", "wait", "job-1", "job-2"]) == 130
    err = capsys.readouterr().err
    assert "still running: job-1, job-2" in err
    assert "resume with: batchkit -p hume wait job-1 job-2" in err


def test_an_interrupted_submit_many_says_how_to_resume(emulated, emu, tmp_path: Path, caplog) -> None:
    client = emulated("resemble")
    files = [tmp_path / f"{i}.wav" for i in range(3)]
    for path in files:
        path.write_bytes(b"x")
    operation = client._client._ops.submit_many(files, {"journal": tmp_path / "run.db", "chunk": 1})
    next(operation)  # the first step: checking the files
    operation.close()
    assert "submit_many interrupted" not in caplog.text  # not yet under way
    operation = client._client._ops.submit_many(files, {"journal": tmp_path / "run.db", "chunk": 1})
    step = next(operation)
    while type(step).__name__ != "Parallel":  # the chunks are being worked
        step = operation.send(step.fn())
    operation.close()
    assert "submit_many interrupted; call it again with the same files and journal=" in caplog.text


def test_an_unknown_keyword_is_an_input_error(make_client, httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    client = make_client("hume")
    with pytest.raises(batchkit.InputError, match="unknown argument 'callback'"):
        client.submit(text=["x"], callback="https://x.test/cb")
    with pytest.raises(batchkit.InputError, match="unknown argument 'resend'"):
        client.submit_many([tmp_path], journal=tmp_path / "j.db", resend=True)


def test_an_unknown_setting_or_wait_option_is_named(make_client, httpx_mock: HTTPXMock) -> None:
    with pytest.raises(batchkit.ConfigError, match="unknown client setting 'apikey'"):
        batchkit.connect("hume", apikey="k")
    with pytest.raises(batchkit.InputError, match="unknown argument 'timout'"):
        make_client("hume").wait_all(["j"], timout=5)
