"""The API reference: every public name has a docstring (what ``tools/api_docs.py`` checks before it
builds; CI runs it with ``batchkit[docs]``, here it is skipped where pdoc is not installed)."""

from __future__ import annotations

import pytest

pytest.importorskip("pdoc", reason="the API reference needs pdoc: pip install -e '.[docs]'")

from tools import api_docs


def test_every_public_name_has_a_docstring() -> None:
    assert api_docs.undocumented() == []


def test_a_missing_docstring_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_docs, "PUBLIC", ("tests.report_inputs",))  # helpers of the tests, not all documented
    missing = api_docs.undocumented()
    assert {"tests.report_inputs.detect", "tests.report_inputs.NAMES"} <= set(missing)
    assert "tests.report_inputs.mixed" not in missing
    assert "tests.report_inputs.FileResult" not in missing, "an imported name is documented where it is made"


def test_the_reference_is_built_into_the_ignored_build_folder() -> None:
    from pathlib import Path

    root = Path(api_docs.__file__).resolve().parent.parent
    assert root / "build" / "api" == api_docs.OUTPUT
    assert "build/" in (root / ".gitignore").read_text().splitlines()
