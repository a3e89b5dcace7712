"""The Kubernetes example (``examples/kubernetes/``) as far as it can be checked without a cluster: its
manifests parse, the Job is an Indexed Job of ``batchkit worker --until-done`` pods whose options the
command line accepts, its image is the Dockerfile's, and every Secret it reads is defined."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML (the test extra) reads the manifests")

HERE = Path(__file__).parent.parent / "examples" / "kubernetes"


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((HERE / name).read_text()) if d]


def test_an_indexed_job_of_batchkit_workers() -> None:
    [job] = documents("worker-job.yaml")
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] >= 2
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    [container] = pod["containers"]
    image = container["image"]
    assert ":" in image.rsplit("/", 1)[-1]  # a pinned tag
    assert not image.endswith(":latest")
    command = container["command"]
    assert command[:3] == ["batchkit", "worker", "--until-done"]
    from batchkit.cli.commands import cli

    worker = cli.commands["worker"]
    context = worker.make_context("worker", [*command[2:], "--journal", "postgresql://db/batchkit"])  # the options exist
    assert context.params["until_done"] is True
    assert context.params["concurrency"] == int(command[command.index("--concurrency") + 1])
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["media"]["readOnly"] is True


def test_the_journal_and_keys_come_from_secrets() -> None:
    [job] = documents("worker-job.yaml")
    [container] = job["spec"]["template"]["spec"]["containers"]
    named = [source["secretRef"]["name"] for source in container["envFrom"]]
    assert named == ["batchkit-journal", "batchkit-provider-keys"]
    assert not any("KEY" in e["name"] or "JOURNAL" in e["name"] for e in container.get("env", []))  # none inline
    secrets = {d["metadata"]["name"]: d for d in documents("secrets.yaml") if d["kind"] == "Secret"}
    assert set(named) <= set(secrets)
    assert "BATCHKIT_JOURNAL" in secrets["batchkit-journal"]["stringData"]
    assert "PGPASSWORD" in secrets["batchkit-journal"]["stringData"]
    assert ":" not in secrets["batchkit-journal"]["stringData"]["BATCHKIT_JOURNAL"].split("@")[0].split("//")[1]
    keys = secrets["batchkit-provider-keys"]["stringData"]
    assert "RESEMBLE_API_KEY" in keys
    assert all(value.startswith("REPLACE-WITH-") for value in keys.values())  # placeholders, never a key


def test_the_image_is_the_dockerfiles() -> None:
    dockerfile = (HERE / "Dockerfile").read_text()
    assert "batchkit[cli,postgres]" in dockerfile
    [job] = documents("worker-job.yaml")
    [container] = job["spec"]["template"]["spec"]["containers"]
    version = container["image"].rsplit(":", 1)[1]
    assert f"=={version}'" in dockerfile
    import batchkit

    assert version == batchkit.__version__
    readme = (HERE / "README.md").read_text()
    assert container["image"] in readme
    assert "cannot be run" in readme
