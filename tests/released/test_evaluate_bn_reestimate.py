"""`benchmark evaluate released --bn-reestimate clean|mixed` on synthetic publisher-layout files:
BatchNorm's running statistics are re-estimated on the training images before scoring, weights
untouched, as the BatchNorm-matched verdicts do (docs/claims.md)."""

from __future__ import annotations

import json

import pytest
import torch
from publisher_files import REGISTRY
from test_evaluate_cli import _environment, _release_spec, _run, write_published

from benchmark.experiment.file_evaluations import file_evaluations
from benchmark.experiment.registry import load_registry
from benchmark.experiment.releases import load_releases
from benchmark.models import build_model
from benchmark.models.checkpoint_files import publisher_layout
from benchmark.report.published_section import release_results
from benchmark.store.predictions import load_predictions

WRONG_STATS = "msl_c_voc_wrong_stats.pth"


def _predictions(result_path, key: str):
    data = json.loads(result_path.read_text())
    listed = data["predictions"][key]
    return load_predictions(result_path.parent / listed["file"], listed["sha256"])


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """msl-c-voc evaluated as published and with each re-estimation; and the same file with
    its running statistics overwritten, re-estimated on clean images."""
    folder = tmp_path_factory.mktemp("evaluate-bn")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _environment(monkeypatch, folder)
        weights = folder / "weights"
        states = write_published(weights)
        wrong = {
            k: v * 3 + 1 if k.endswith(("running_mean", "running_var")) else v
            for k, v in states["msl-c-voc"].items()
        }
        torch.save(wrong, weights / WRONG_STATS)
        runs = {}
        for mode in (None, "clean", "mixed"):
            flags = [] if mode is None else ["--bn-reestimate", mode]
            code, out, err = _run("msl-c-voc", "--weights-root", str(weights), "--mask-seeds",
                                  "0", *flags)  # fmt: skip
            assert code == 0, err
            runs[mode] = out
        mine = ["--checkpoint", str(weights / WRONG_STATS), "--like", "voc-resnetcut-csra"]
        code, out, err = _run(*mine, "--mask-seeds", "0", "--bn-reestimate", "clean")
        assert code == 0, err
        yield {"folder": folder, "weights": weights, "out": runs}


def _by_mode(folder) -> dict:
    found = {}
    for path in (folder / "results" / "smoke").glob("*/result.json"):
        data = json.loads(path.read_text())
        found[(data["name"], data["spec"]["bn_reestimate"])] = (path, data)
    return found


def test_re_estimated_evaluations_are_their_own_results(evaluated):
    found = _by_mode(evaluated["folder"])
    plain = found[("msl-c-voc", None)][1]
    clean = found[("msl-c-voc", "clean")][1]
    mixed = found[("msl-c-voc", "mixed")][1]
    assert len({plain["hash"], clean["hash"], mixed["hash"]}) == 3  # part of the identity
    assert plain["batchnorm"] is None
    assert clean["batchnorm"]["reestimated_on"] == "clean" and clean["batchnorm"]["images"] == 24
    assert mixed["batchnorm"]["reestimated_on"] == "clean+masked"
    assert mixed["batchnorm"]["batches"] == 2 * clean["batchnorm"]["batches"]
    assert clean["batchnorm"]["layers"] > 0
    assert "BatchNorm re-estimated (mixed)" in evaluated["out"]["mixed"]
    assert "not the files as published" in evaluated["out"]["mixed"]
    # The report (and status) show the file as published.
    releases = load_releases(load_registry(REGISTRY))
    found = file_evaluations(evaluated["folder"] / "results" / "smoke", "smoke")
    assert [f.data["hash"] for f in found if f.name == "msl-c-voc"] == [plain["hash"]]
    assert release_results(releases, found)["msl-c-voc"]["hash"] == plain["hash"]


def test_statistics_come_from_the_training_images_not_the_file(evaluated):
    """The file's own statistics and a copy whose statistics are overwritten give the same
    model once re-estimated; as published, they differ."""
    found = _by_mode(evaluated["folder"])
    wrong = next(v for k, v in found.items() if k[0].endswith(WRONG_STATS) and k[1] == "clean")
    published = _predictions(found[("msl-c-voc", None)][0], "clean")
    reestimated = _predictions(found[("msl-c-voc", "clean")][0], "clean")
    from_wrong = _predictions(wrong[0], "clean")
    assert (reestimated.image_ids == from_wrong.image_ids).all()
    assert (reestimated.probs == from_wrong.probs).all()
    assert not (reestimated.probs == published.probs).all()


def test_a_model_without_batchnorm_is_skipped_and_the_data_is_required(evaluated, tmp_path):
    weights = evaluated["weights"]
    torch.save(
        publisher_layout(build_model(_release_spec("msl-v-wider"))), weights / "msl_v_wider.pth"
    )
    with pytest.MonkeyPatch.context() as monkeypatch:
        _environment(monkeypatch, evaluated["folder"])
        code, out, err = _run("msl-v-wider", "--weights-root", str(weights), "--bn-reestimate",
                              "clean", "--dry-run")  # fmt: skip
        assert code == 2, err  # nothing left to evaluate is an error, as when no file is present
        assert "msl-v-wider: skipped (test_vit + csra head: no BatchNorm to re-estimate)" in out
        assert "every file of 'msl-v-wider' found was skipped" in err
        code, _, err = _run("released", "--profile", "paper", "--bn-reestimate", "mixed")
        assert code == 2 and err.count("\n") == 1
        assert "--bn-reestimate mixed: re-estimating BatchNorm reads the training images" in err
        assert "--data-root" in err
