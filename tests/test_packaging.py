"""What the sdist and the wheel carry: the project's own files, never build output or coverage data."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SDIST_TOP = {"batchkit", "tests", "examples", "README.md", "LICENSE", "pyproject.toml", "PKG-INFO", ".gitignore"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    pytest.importorskip("hatchling", reason="hatchling (the build backend, in the test extra) is not installed")
    work = tmp_path_factory.mktemp("build")
    source = work / "src"  # the project, with stray files beside it as a developer's checkout has
    ignore = shutil.ignore_patterns("__pycache__")
    for name in ("batchkit", "tests", "examples"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("README.md", "LICENSE", "pyproject.toml", ".gitignore"):
        shutil.copy(ROOT / name, source / name)
    for stray in (".coverage", ".coverage.host.1", "psycopg-3.3.9-py3-none-any.whl"):
        (source / stray).write_bytes(b"stray")
    out = work / "dist"
    done = subprocess.run([sys.executable, "-m", "hatchling", "build", "-d", str(out)], cwd=source,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    [sdist] = out.glob("*.tar.gz")
    [wheel] = out.glob("*.whl")
    return sdist, wheel


def test_the_sdist_holds_only_the_project(built: tuple[Path, Path]) -> None:
    with tarfile.open(built[0]) as tar:
        names = [name.split("/", 1)[1] for name in tar.getnames() if "/" in name]
    assert {name.split("/")[0] for name in names} <= SDIST_TOP
    assert not [name for name in names if name.endswith((".whl", ".pyc")) or "/.coverage" in f"/{name}"]
    assert "batchkit/py.typed" in names


def test_the_wheel_holds_the_package_and_its_type_marker(built: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(built[1]) as whl:
        names = whl.namelist()
    assert {name.split("/")[0] for name in names} == {"batchkit", "batchkit-0.1.0.dist-info"}
    assert "batchkit/py.typed" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    with zipfile.ZipFile(built[1]) as whl:
        assert "batchkit = batchkit.testing" in whl.read(entry_points).decode()
