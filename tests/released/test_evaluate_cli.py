"""`benchmark evaluate` end to end on synthetic data: publishers'-layout files of the smoke
profile's architecture equivalents are evaluated clean, under Table 6's masking and on every
hole-ratio bucket; results are stored like any evaluation and the report shows them."""

import json
import math
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from publisher_files import REGISTRY

from benchmark.cli import main
from benchmark.data import build_dataset
from benchmark.models import build_model
from benchmark.models.checkpoint_files import publisher_layout
from benchmark.models.heads import CSRA_TEMPERATURES
from benchmark.predictions import load_predictions
from benchmark.registry import load_registry
from benchmark.released import load_releases, target_run
from benchmark.spec import BUCKETS

PRESENT = ("msl-c-voc", "csra-voc-resnetcut")  # Table 6's two VOC models


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHMARK_EXPERIMENTS", str(REGISTRY))
    monkeypatch.setenv("BENCHMARK_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("BENCHMARK_WEIGHTS", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def published(workdir):
    """Files in the publishers' layout for the smoke stand-ins of two VOC releases."""
    registry = load_registry(REGISTRY)
    releases = load_releases(registry)
    folder = workdir / "weights"
    folder.mkdir()
    states = {}
    for seed, release_id in enumerate(PRESENT):
        release = releases.releases[release_id]
        torch.manual_seed(seed)
        model = build_model(target_run(registry, release_id, release.targets[0], "smoke"))
        states[release_id] = publisher_layout(model)
        torch.save(states[release_id], folder / release.file)
    return folder, states, releases


def _evaluate(capsys, *args):
    capsys.readouterr()
    code = main(["evaluate", *args, "--no-progress"])
    out = capsys.readouterr()
    return code, out.out, out.err


def _results(workdir):
    found = {}
    for path in (workdir / "results" / "smoke").glob("*/result.json"):
        data = json.loads(path.read_text())
        found[data["name"]] = (path, data)
    return found


def independent_probs(state, images, num_heads=1, lam=0.1):
    """timm's test_resnet layer4 filled from the file, then SPEC §1.3's CSRA, in float64."""
    net = timm.create_model("test_resnet", num_classes=0).eval()
    net.load_state_dict({k: v for k, v in state.items() if not k.startswith("classifier.")})
    with torch.no_grad():
        x = net.forward_features(images).double().flatten(2)
    total = 0
    for h, t in enumerate(CSRA_TEMPERATURES[num_heads]):
        m = state[f"classifier.multi_head.{h}.head.weight"].double().flatten(1)
        s = torch.einsum("cd,bdn->bcn", m / m.norm(dim=1, keepdim=True), x)
        att = s.amax(-1) if math.isinf(t) else (torch.softmax(t * s, -1) * s).sum(-1)
        total = total + s.mean(-1) + lam * att
    return torch.sigmoid(total).numpy()


def test_evaluate_released_scores_present_files_names_absent_ones_and_launches_once(
    workdir, published, capsys
):
    weights, states, releases = published
    args = ["released", "--weights-root", str(weights), "--mask-seeds", "0,1"]
    code, out, err = _evaluate(capsys, *args)
    assert code == 0, err
    assert "msl-c-coco: absent" in out and "msl_c_coco.pth" in out
    assert "csra-coco-vitl16-448-86.5: unmapped" in out
    results = _results(workdir)
    assert set(results) == set(PRESENT)

    path, result = results["msl-c-voc"]
    assert result["status"] == "done" and result["spec"]["checkpoint"].startswith("sha256:")
    conditions = {row["condition"] for row in result["rows"]}
    assert conditions == {"clean", "high", *BUCKETS, "high_seed1"}
    metrics = {row["metric"] for row in result["rows"] if row["condition"] == "high"}
    assert {"mAP", "CP", "CR", "CF1", "OP", "OR", "OF1", "mAP_small", "mAP_occluded"} <= metrics
    assert len(result["per_class_AP"]["clean"]) == 20
    assert result["checkpoint_file"]["layout"] == "publisher"

    # The stored clean predictions are the file's model, computed here from the formulas.
    listed = result["predictions"]["clean"]
    preds = load_predictions(path.parent / listed["file"], listed["sha256"])
    spec = target_run(
        load_registry(REGISTRY), "msl-c-voc", releases.releases["msl-c-voc"].targets[0], "smoke"
    )
    cache = workdir / "cache"
    root = next((cache / "synthetic").glob("voc2007-*"))
    test_set = build_dataset(
        "voc2007",
        root,
        "test",
        img_size=spec.img_size,
        train=False,
        augment=spec.augment,
        normalize=spec.normalize,
    )
    images = torch.stack([test_set[i][0] for i in range(len(test_set))])
    expected = independent_probs(states["msl-c-voc"], images)
    order = [test_set.sample_ids(root).index(i) for i in preds.image_ids]
    np.testing.assert_allclose(preds.probs, expected[order], atol=1e-3)  # float16 storage
    assert set(result["predictions"]) == {"clean", "high", "high_seed1"} | {
        b.replace(":", "-") for b in BUCKETS
    }

    # A second call finds every evaluation done and launches nothing.
    mtime = path.stat().st_mtime_ns
    code, out, _ = _evaluate(capsys, *args)
    assert code == 0 and "2 of 2 evaluation(s) already done: not launched" in out
    assert path.stat().st_mtime_ns == mtime


def test_killed_evaluation_restarts_cleanly(workdir, published, capsys):
    weights, _, releases = published
    args = ["msl-c-voc", "--weights-root", str(weights)]
    code, _, err = _evaluate(capsys, *args, "--dry-run")
    assert code == 0, err
    code, out, _ = _evaluate(capsys, *args, "--dry-run")
    spec_hash = out.split("[")[1].split("]")[0]
    folder = workdir / "results" / "smoke" / spec_hash
    # What a kill leaves: the dead process's lock, a half-written predictions file.
    (folder / "predictions").mkdir(parents=True)
    (folder / ".lock").write_text(f"999999999 {socket.gethostname()}\n")
    (folder / "predictions" / ".clean.npz.1234.tmp").write_bytes(b"PK\x03 cut short")
    code, out, err = _evaluate(capsys, *args)
    assert code == 0, err
    result = json.loads((folder / "result.json").read_text())
    assert result["status"] == "done"
    assert not list(folder.rglob("*.tmp")) and not (folder / ".lock").exists()


def test_a_users_checkpoint_of_a_registered_run(workdir, published, capsys, tmp_path):
    weights, states, _ = published
    code, out, err = _evaluate(
        capsys,
        "--checkpoint",
        str(weights / "msl_c_voc.pth"),
        "--like",
        "voc-resnetcut-csra-msl-high",
    )
    assert code == 0, err
    assert "voc-resnetcut-csra-msl-high@msl_c_voc.pth" in out
    prefixed = tmp_path / "dp.pth"
    torch.save({f"module.{k}": v for k, v in states["msl-c-voc"].items()}, prefixed)
    before = set(os.listdir(workdir / "results" / "smoke"))
    code, out, err = _evaluate(
        capsys, "--checkpoint", str(prefixed), "--like", "voc-resnetcut-csra-msl-high"
    )
    assert code == 2 and err.count("\n") == 1
    assert "keys carry DataParallel's 'module.' prefix" in err and "dp.pth" in err
    assert set(os.listdir(workdir / "results" / "smoke")) == before  # nothing written


@pytest.mark.parametrize(
    "args,message",
    [
        ([], "give a release selector"),
        (["released", "--checkpoint", "x.pth"], "give either a release selector or --checkpoint"),
        (["--checkpoint", "x.pth"], "--checkpoint needs --like"),
        (["released", "--mask-seeds", "0,0"], "--mask-seeds: seeds must be distinct"),
        (["nope-*"], "matches no release"),
    ],
)
def test_bad_flags_fail_before_any_work(workdir, capsys, args, message):
    code, _, err = _evaluate(capsys, *args)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (workdir / "results").exists()


def test_report_shows_published_checkpoints(workdir, published, capsys):
    weights, _, _ = published
    code, _, err = _evaluate(capsys, "released", "--weights-root", str(weights))
    assert code == 0, err
    code = main(["report", "--profile", "smoke", "--out", str(workdir / "report"), "--no-figures"])
    assert code == 0
    text = Path(workdir / "report" / "report.md").read_text()
    section = text.split("## Published checkpoints", 1)[1]
    assert "msl_c_voc.pth" in section and "not evaluated" in section and "unmapped" in section
    assert "batch 64" in section  # the stand-in is said
    assert "Table 6 rebuilt from published files" in section
    # A cell a release speaks to carries the release's measured value on a second line.
    table6 = text.split("## Table 6", 1)[1].split("## ", 1)[0]
    assert "published msl_c_voc.pth" in table6
    assert "published csra_voc07_resnetcut_h1_95.2.pth, stand-in" in table6
