"""Issue 26, what a user sees: one tidy schema, the command line's papercuts, journal passwords kept out
of what is printed."""

from __future__ import annotations

import pytest

import batchkit

FAST = batchkit.PollSchedule(initial=0.02, factor=1.0, maximum=0.02)


@pytest.mark.parametrize("provider", ["resemble", "hume"])
def test_equal_base_names_stay_apart_as_the_paths_given(emu, media, provider: str) -> None:
    paths = [media("d1/a.wav"), media("d2/a.wav"), media("d1/b.wav")]
    with emu.connect(provider, poll=FAST) as client:
        job = client.wait(client.submit(paths))
        assert [r.source for r in client.results(job)] == [str(p) for p in paths]
        assert [r.source for r in client.results(job.id)] == [str(p) for p in paths], "by id, from the same client"
        assert [r.source for r in client.iter_results(job)] == [str(p) for p in paths]
        with client.with_options(timeout=30) as other:  # a configured copy knows them too
            assert [r.source for r in other.results(job.id)] == [str(p) for p in paths]
    with emu.connect(provider) as elsewhere:  # another client knows only what the provider knows
        assert [r.source for r in elsewhere.results(job.id)] == ["a.wav", "a.wav", "b.wav"]
