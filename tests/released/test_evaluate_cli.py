"""`benchmark evaluate` end to end on synthetic data: publishers'-layout files of the smoke
profile's architecture equivalents are evaluated clean, under Table 6's masking and on every
hole-ratio bucket; results are stored like any evaluation and the report shows them.

One evaluation of two files (the costly part) is shared by the tests that read it.
"""

import contextlib
import io
import json
import math
import re
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from publisher_files import REGISTRY

from benchmark.cli import main
from benchmark.data import build_dataset
from benchmark.experiment.registry import load_registry
from benchmark.experiment.releases import load_releases, target_run
from benchmark.models import build_model
from benchmark.models.checkpoint_files import publisher_layout
from benchmark.spec import BUCKETS, CSRA_TEMPERATURES
from benchmark.store.predictions import load_predictions
from benchmark.train.inference import prediction_ids

PRESENT = ("msl-c-voc", "csra-voc-resnetcut")  # Table 6's two VOC models


def _environment(monkeypatch, folder: Path) -> None:
    monkeypatch.setenv("BENCHMARK_EXPERIMENTS", str(REGISTRY))
    monkeypatch.setenv("BENCHMARK_CACHE", str(folder / "cache"))
    monkeypatch.delenv("BENCHMARK_WEIGHTS", raising=False)
    monkeypatch.delenv("BENCHMARK_MASKS", raising=False)
    monkeypatch.chdir(folder)


def _release_spec(release_id: str):
    registry = load_registry(REGISTRY)
    release = load_releases(registry).releases[release_id]
    return target_run(registry, release_id, release.targets[0], "smoke")


def write_published(folder: Path) -> dict:
    """Files in the publishers' layout for the smoke stand-ins of two VOC releases."""
    folder.mkdir()
    states = {}
    for seed, release_id in enumerate(PRESENT):
        torch.manual_seed(seed)
        states[release_id] = publisher_layout(build_model(_release_spec(release_id)))
        file = load_releases(load_registry(REGISTRY)).releases[release_id].file
        torch.save(states[release_id], folder / file)
    return states


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["evaluate", "--profile", "smoke", *argv, "--no-progress"])
    return code, out.getvalue(), err.getvalue()


def _results(folder: Path) -> dict:
    found = {}
    for path in (folder / "results" / "smoke").glob("*/result.json"):
        data = json.loads(path.read_text())
        found[data["name"]] = (path, data)
    return found


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """`benchmark evaluate released`, started over what a killed earlier evaluation of
    msl-c-voc left behind (its dead owner's lock, a half-written predictions file)."""
    folder = tmp_path_factory.mktemp("evaluate")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _environment(monkeypatch, folder)
        weights = folder / "weights"
        states = write_published(weights)
        seeds = ("--mask-seeds", "0,1")
        code, out, err = _run("msl-c-voc", "--weights-root", str(weights), *seeds, "--dry-run")
        assert code == 0, err
        killed = folder / "results" / "smoke" / out.split("[")[1].split("]")[0]
        (killed / "predictions").mkdir(parents=True)
        (killed / ".lock").write_text(f"999999999 {socket.gethostname()}\n")
        (killed / "predictions" / ".clean.npz.1234.tmp").write_bytes(b"PK cut short")
        args = ("released", "--weights-root", str(weights), *seeds)
        started = time.perf_counter()
        code, out, err = _run(*args)
        seconds = time.perf_counter() - started
        assert code == 0, err
        yield {
            "folder": folder,
            "args": args,
            "out": out,
            "states": states,
            "killed": killed,
            "seconds": seconds,
            "monkeypatch": monkeypatch,
        }


def independent_probs(state, images, num_heads=1, lam=0.1):
    """timm's test_resnet layer4 filled from the file, then docs/spec.md §1.3's CSRA, in float64."""
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


def test_evaluate_released_scores_present_files_and_names_absent_ones(evaluated):
    out, folder = evaluated["out"], evaluated["folder"]
    print(f"evaluate released (2 files, smoke data, 9 conditions): {evaluated['seconds']:.1f} s")
    assert "msl-c-coco: absent" in out and "msl_c_coco.pth" in out
    assert "csra-coco-vitl16-448-86.5: unmapped" in out
    # the closing hint is the command to type, naming the folder the results are in
    assert out.rstrip().splitlines()[-1] == (
        "results in results/smoke; `benchmark report --profile smoke --results-dir "
        "results/smoke` shows them"
    )
    results = _results(folder)
    assert set(results) == set(PRESENT)

    path, result = results["msl-c-voc"]
    assert result["status"] == "done" and result["spec"]["checkpoint"].startswith("sha256:")
    conditions = {row["condition"] for row in result["rows"]}
    assert conditions == {"clean", "high", *BUCKETS, "high_seed1"}
    metrics = {row["metric"] for row in result["rows"] if row["condition"] == "high"}
    assert {"mAP", "CP", "CR", "CF1", "OP", "OR", "OF1", "mAP_small", "mAP_occluded"} <= metrics
    assert len(result["per_class_AP"]["clean"]) == 20
    assert result["checkpoint_file"]["layout"] == "publisher"
    keys = {"clean", "high", "high_seed1", *(b.replace(":", "-") for b in BUCKETS)}
    assert set(result["predictions"]) == keys
    # Table 6's setting drawn with a second mask seed: other masks, same hole-ratio range.
    ratios = {r["condition"]: r["hole_ratio"] for r in result["rows"]}
    assert 0.5 < ratios["high"] <= 0.6 and 0.5 < ratios["high_seed1"] <= 0.6
    assert ratios["high"] != ratios["high_seed1"]

    # The stored clean predictions are the file's model, computed here from the formulas.
    listed = result["predictions"]["clean"]
    preds = load_predictions(path.parent / listed["file"], listed["sha256"])
    spec = _release_spec("msl-c-voc")
    root = next((folder / "cache" / "synthetic").glob("voc2007-*"))
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
    expected = independent_probs(evaluated["states"]["msl-c-voc"], images)
    ids = prediction_ids(test_set)
    order = [ids.index(i) for i in preds.image_ids]
    np.testing.assert_allclose(preds.probs, expected[order], atol=1e-3)  # float16 storage


def test_the_summary_sets_each_file_beside_its_reported_map(evaluated):
    """The closing table puts each evaluated file beside the mAP its publisher reported
    (experiments/released.yaml: msl-c-voc 96.1), read from the plan that evaluated it."""
    rows = [line.split() for line in evaluated["out"].splitlines()]
    table = [r for r in rows if r[:1] == ["msl-c-voc"] and not r[1].startswith("[")]
    assert len(table) == 1 and table[0][1] == "96.1"
    # the ± under Table 6's setting says what it spreads over (mask seeds 0,1: two draws)
    assert (
        "Table 6 setting: mean ± std over 2 mask seed(s), one high-pool mask per test image "
        "each: the spread of the mask draw for these weights, not of training seeds"
    ) in evaluated["out"]


def test_a_second_call_launches_nothing(evaluated):
    path, _ = _results(evaluated["folder"])["msl-c-voc"]
    mtime = path.stat().st_mtime_ns
    code, out, err = _run(*evaluated["args"])
    assert code == 0, err
    assert "2 of 2 evaluation(s) already done: not launched" in out and "[1/" not in out
    assert path.stat().st_mtime_ns == mtime


def test_a_killed_evaluation_restarts_cleanly(evaluated):
    killed = evaluated["killed"]
    result = json.loads((killed / "result.json").read_text())
    assert result["name"] == "msl-c-voc" and result["status"] == "done"
    assert not list(killed.rglob("*.tmp")) and not (killed / ".lock").exists()


def test_report_shows_published_checkpoints(evaluated):
    folder = evaluated["folder"]
    out = folder / "report"
    args = [
        "report",
        "--profile",
        "smoke",
        "--out",
        str(out),
        "--no-figures",
        "--format",
        "md,html",
    ]
    assert main(args) == 0
    text = (out / "report.md").read_text()
    section = text.split("## Published checkpoints", 1)[1].split("\n## ", 1)[0]
    assert "| msl-c-voc " in section and "| measured " in section
    assert "not evaluated" in section and "unmapped" in section
    assert "batch 64" in section  # the stand-in is said
    assert "Table 6 rebuilt from published files" in section
    # A cell a release speaks to carries the release's measured value on a second line.
    table6 = text.split("## Table 6", 1)[1].split("\n## ", 1)[0]
    assert "↳ published msl_c_voc.pth" in table6
    assert "↳ published csra_voc07_resnetcut_h1_95.2.pth, stand-in" in table6
    html = (out / "report.html").read_text()
    assert "Table 6 rebuilt from published files" in html and "↳ published msl_c_voc.pth" in html


def test_a_published_file_is_evaluated_and_reported_at_a_stated_precision(evaluated):
    """An evaluation is identified by its precision (the profile's, or --precision): a bf16
    evaluation of the same file is another evaluation, and a report at one precision never
    shows the other's numbers."""
    folder = evaluated["folder"]
    done = {p.parent.name for p in (folder / "results" / "smoke").glob("*/result.json")}
    result = _results(folder)["msl-c-voc"][1]
    assert result["spec"]["run"]["precision"] == "fp32"  # smoke's
    assert result["precision"] == {"requested": "fp32", "computed": "fp32"}
    code, out, err = _run(*evaluated["args"], "--precision", "bf16", "--dry-run")
    assert code == 0, err
    planned = set(re.findall(r"\[([0-9a-f]{12})\]", out))
    assert len(planned) == 2 and not planned & done
    report = folder / "report-bf16"
    args = ["report", "--profile", "smoke", "--precision", "bf16", "--out", str(report)]
    assert main([*args, "--no-figures", "--format", "md"]) == 0
    text = (report / "report.md").read_text()
    assert "- **Precision:** bf16 — bf16 autocast: a speed choice, not the paper protocol's" in text
    section = text.split("## Published checkpoints", 1)[1].split("\n## ", 1)[0]
    assert "No published checkpoint has been evaluated" in section and "| measured " not in section


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    _environment(monkeypatch, tmp_path)
    return tmp_path


def test_a_users_checkpoint_of_a_registered_run(workdir):
    states = write_published(workdir / "weights")
    mine = ["--checkpoint", str(workdir / "weights" / "msl_c_voc.pth"), "--like"]
    code, out, err = _run(*mine, "voc-resnetcut-csra", "--dry-run")
    assert code == 0, err
    assert "voc-resnetcut-csra@msl_c_voc.pth [" in out
    # A DataParallel-prefixed copy: one line naming the file and the prefix, nothing written.
    prefixed = workdir / "dp.pth"
    torch.save({f"module.{k}": v for k, v in states["msl-c-voc"].items()}, prefixed)
    code, out, err = _run("--checkpoint", str(prefixed), "--like", "voc-resnetcut-csra")
    assert code == 2 and err.count("\n") == 1
    assert "keys carry DataParallel's 'module.' prefix" in err and "dp.pth" in err
    # Another run's architecture (COCO: 6 heads, 80 classes) is told apart.
    code, _, err = _run(*mine, "coco-resnetcut-csra", "--dry-run")
    assert code == 2 and "unexpected key(s)" not in err and "shape(s) differ" in err
    assert not (workdir / "results").exists()


@pytest.mark.parametrize(
    "like", ["voc-resnetcut-csra", "voc-resnetcut-csra-masked", "t6.csra-resnet-cut.voc2007"]
)
def test_like_takes_the_names_list_shows(workdir, like, capsys):
    """`benchmark list table6` shows evaluation names in its run column: each of them, a run
    name and a cell id, reads as the run whose model the file is (the same evaluation)."""
    write_published(workdir / "weights")
    mine = ["--checkpoint", str(workdir / "weights" / "msl_c_voc.pth"), "--dry-run"]
    code, out, err = _run(*mine, "--like", like)
    assert code == 0, err
    assert "voc-resnetcut-csra@msl_c_voc.pth [" in out
    assert main(["list", "table6", "--profile", "smoke"]) == 0
    assert "voc-resnetcut-csra-masked" in capsys.readouterr().out


def test_like_with_a_typo_lists_the_close_names(workdir):
    (workdir / "x.pth").write_bytes(b"")
    code, _, err = _run("--checkpoint", "x.pth", "--like", "voc-resnetcut-csra-maskd")
    assert code == 2 and err.count("\n") == 1
    assert "--like voc-resnetcut-csra-maskd: no run, evaluation or cell of that name" in err
    assert "close: voc-resnetcut-csra-masked" in err


@pytest.mark.parametrize("weights", [None, "empty"])
def test_released_with_no_file_present_fails_saying_where_it_looked(workdir, weights):
    folder = workdir / "weights"
    folder.mkdir()
    args = ["released"] + (["--weights-root", str(folder)] if weights else [])
    code, out, err = _run(*args)
    assert code == 2 and err.count("\n") == 1
    where = f"under --weights-root {folder}" if weights else "(no --weights-root given"
    assert err.startswith(f"benchmark: error: no published file of 'released' found {where}")
    assert "msl-c-voc: absent" in out and not (workdir / "results").exists()


@pytest.mark.parametrize(
    "content,says",
    [
        (
            b"epoch 3, mAP 91.2\n",
            "not a PyTorch checkpoint: a text file (it starts with 'epoch 3, mAP')",
        ),
        (b"", "not a PyTorch checkpoint: an empty file"),
    ],
)
def test_a_file_that_is_no_checkpoint_says_what_it_is(workdir, content, says):
    path = workdir / "notes.pth"
    path.write_bytes(content)
    code, _, err = _run("--checkpoint", str(path), "--like", "voc-resnetcut-csra", "--dry-run")
    assert (
        code == 2
        and err == f"benchmark: error: {path}: {says}, where torch.save writes a zip archive\n"
    )


@pytest.mark.parametrize(
    "args,message",
    [
        ([], "give a release selector"),
        (["released", "--checkpoint", "x.pth"], "give either a release selector or --checkpoint"),
        (["--checkpoint", "x.pth"], "--checkpoint needs --like"),
        (["released", "--mask-seeds", "0,0"], "--mask-seeds 0,0: seed 0 given more than once"),
        (["nope-*"], "matches no release"),
        (["--checkpoint", "x.pth", "--like", "voc-nope"], "--like voc-nope: no run, evaluation"),
    ],
)
def test_bad_flags_fail_before_any_work(workdir, args, message):
    (workdir / "x.pth").write_bytes(b"")  # a file, so that the flags after it are read
    code, _, err = _run(*args)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (workdir / "results").exists()


def test_the_profile_is_inferred_from_the_results_folder_as_in_every_verb(evaluated, capsys):
    """No --profile: `evaluate` reads the profile off the results folder, as run/status do."""
    results = evaluated["folder"] / "results" / "smoke"
    weights = evaluated["folder"] / "weights"
    code = main(["evaluate", "released", "--dry-run", "--results-dir", str(results),
                 "--weights-root", str(weights)])  # fmt: skip
    assert code == 0
    assert "profile smoke: inferred from the results in" in capsys.readouterr().err
