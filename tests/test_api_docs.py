"""The API reference: every public name has a docstring (what ``.ci/api_docs.py`` checks before it
builds; CI runs it with ``batchkit[docs]``, here it is skipped where pdoc is not installed). The check runs
in a process of its own: pdoc changes the modules it reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pdoc", reason="the API reference needs pdoc: pip install -e '.[docs]'")

ROOT = Path(__file__).resolve().parent.parent


def check(*modules: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, ".ci/api_docs.py", "--check", *modules], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_every_public_name_has_a_docstring() -> None:
    done = check()
    assert done.returncode == 0, done.stderr


def test_a_missing_docstring_is_named() -> None:
    done = check("tests.report_inputs")  # helpers of the tests, not all documented
    assert done.returncode == 1
    missing = done.stderr.split()
    assert {"tests.report_inputs.detect", "tests.report_inputs.NAMES"} <= set(missing)
    assert "tests.report_inputs.mixed" not in missing
    assert "tests.report_inputs.FileResult" not in missing, "an imported name is documented where it is made"


def test_the_reference_is_built_into_the_ignored_build_folder() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("api_docs", ROOT / ".ci" / "api_docs.py")
    assert spec is not None
    assert spec.loader is not None
    api_docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(api_docs)
    assert ROOT / "build" / "api" == api_docs.OUTPUT
    assert "build/" in (ROOT / ".gitignore").read_text().splitlines()
