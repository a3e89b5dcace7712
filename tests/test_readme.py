"""Every Python snippet of the README runs as it is pasted: each in a fresh interpreter (a snippet that
defines ``test_`` functions, under pytest), in a folder holding the files the README names, against the
emulator through the environment the README describes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
SNIPPETS = re.findall(r"^```python\n(.*?)^```$", README.read_text(), re.MULTILINE | re.DOTALL)


def test_the_readme_has_its_snippets() -> None:
    assert len(SNIPPETS) >= 12


@pytest.fixture(scope="module")
def readme_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the README's snippets name: real media (hume-expression decodes them), made once."""
    pytest.importorskip("av", reason="PyAV (batchkit[media]) makes the README's media")
    from tests import media_files

    made = tmp_path_factory.mktemp("readme-media")
    media_files.wav(made / "a.wav", 1)
    media_files.wav(made / "call.wav", 2)
    media_files.image(made / "face.jpg")
    media_files.video(made / "clip.mp4", 1, fps=4)
    (made / "fail.mp4").write_bytes(b"not a video")
    (made / "calls").mkdir()
    for i in range(60):
        media_files.wav(made / "calls" / f"call-{i:02}.wav", 0.1)
    return made


@pytest.fixture
def folder(readme_media: Path, tmp_path: Path) -> Path:
    """A folder of its own for each snippet, holding a copy of the media."""
    shutil.copytree(readme_media, tmp_path / "work")
    return tmp_path / "work"


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_each_snippet_runs_as_pasted(emu, folder: Path, index: int) -> None:
    snippet = SNIPPETS[index]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHKIT_", "HUME_", "RESEMBLE_", "PYTEST_"))}
    env.update(BATCHKIT_BASE_URL=emu.base_url, BATCHKIT_PROVIDER="resemble", RESEMBLE_API_KEY="any",
               HUME_API_KEY="any", REALITY_DEFENDER_API_KEY="any", HIVE_API_KEY="any",
               XDG_DATA_HOME=str(folder / "data"))  # fmt: skip
    if "def test_" in snippet:
        script = folder / f"test_snippet_{index}.py"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(script)]
    else:
        script = folder / f"snippet_{index}.py"
        command = [sys.executable, str(script)]
    script.write_text(snippet)
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"README snippet {index}:\n{snippet}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
