import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from benchmark.cli import main
from benchmark.scoring.metrics import score


def test_list_all_json_has_forty_cells(capsys):
    assert main(["list", "all", "--json"]) == 0
    cells = json.loads(capsys.readouterr().out)
    assert len(cells) == 40
    first = cells[0]
    assert {"id", "table", "row", "dataset", "paper", "runnable", "run"} <= set(first)
    assert isinstance(first["table"], int)
    cited = [c for c in cells if not c["runnable"]]
    assert len(cited) == 4 and all(c["run"] is None for c in cited)
    assert all(isinstance(c["run"], str) and len(c["run"]) == 12 for c in cells if c["runnable"])


def test_score_matches_sklearn_on_npy_and_csv(tmp_path, capsys):
    rng = np.random.default_rng(3)
    scores = rng.random((200, 4))
    targets = (rng.random((200, 4)) < 0.3).astype(int)
    np.save(tmp_path / "s.npy", scores)
    np.savetxt(tmp_path / "t.csv", targets, delimiter=",", fmt="%d")
    assert (
        main(
            [
                "score",
                "--scores",
                str(tmp_path / "s.npy"),
                "--targets",
                str(tmp_path / "t.csv"),
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    expected = 100 * np.mean(
        [average_precision_score(targets[:, c], scores[:, c]) for c in range(4)]
    )
    assert out["mAP"] == pytest.approx(expected)
    assert set(out) >= {"mAP", "CP", "CR", "CF1", "OP", "OR", "OF1", "AP"}


def test_score_ranks_ties_in_the_order_asked(tmp_path, capsys):
    rng = np.random.default_rng(5)
    targets = (rng.random((3000, 4)) < 0.2).astype(int)
    scores = np.round(rng.random((3000, 4)) * 0.5 + 0.5 * targets, 2)  # many ties
    np.save(tmp_path / "s.npy", scores)
    np.save(tmp_path / "t.npy", targets)
    values = {}
    for order in ("stable", "authors"):
        args = ["score", "--scores", str(tmp_path / "s.npy"), "--targets", str(tmp_path / "t.npy")]
        assert main([*args, "--tie-order", order, "--json"]) == 0
        values[order] = json.loads(capsys.readouterr().out)["mAP"]
        assert values[order] == pytest.approx(score(scores, targets, order).mAP)
    assert values["stable"] != values["authors"]


@pytest.mark.parametrize(
    "scores,targets,needle",
    [
        (np.zeros((3, 2)), np.zeros((4, 2)), "4 rows, but"),
        (np.array([[np.nan, 0.1]]), np.array([[1, 0]]), "non-finite score at row 0"),
        (np.array([[0.3, 0.1]]), np.array([[1, 7]]), "unknown target code 7"),
    ],
)
def test_score_bad_input_is_one_line_exit_2(tmp_path, scores, targets, needle):
    np.save(tmp_path / "s.npy", scores)
    np.save(tmp_path / "t.npy", targets)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmark.cli",
            "score",
            "--scores",
            str(tmp_path / "s.npy"),
            "--targets",
            str(tmp_path / "t.npy"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert str(tmp_path) in proc.stderr
