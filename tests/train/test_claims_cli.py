"""`benchmark claims` and the report's Claims section on the smoke profile, two seeds, end to
end: train, evaluate, pair seeds and images, bootstrap, verdict — and the controls run."""

import json

from benchmark.claims.verdicts import consistent_with, verdict
from benchmark.cli import main

SEEDS = ["--profile", "smoke", "--seeds", "0,1", "--epochs", "1", "--no-progress"]
READ = ["--profile", "smoke", "--seeds", "0,1", "--epochs", "1"]


def _claims(capsys, selector, *extra):
    capsys.readouterr()
    assert main(["claims", selector, *READ, "--json", "--resamples", "300", *extra]) == 0
    return {row["id"]: row for row in json.loads(capsys.readouterr().out)}


def test_claims_table_and_report_on_smoke_with_two_seeds(workdir, capsys):
    assert main(["run", "claims:t2.resnet-cut.voc2007", *SEEDS]) == 0
    rows = _claims(capsys, "t2.*")
    gain = rows["t2.resnet-cut.voc2007"]
    assert gain["status"] == "measured" and gain["seeds"] == [0, 1] and gain["images"] == 18
    low, high = gain["ci95"]
    assert low <= gain["mean"] <= high and len(gain["per_seed"]) == 2 and gain["sd"] is not None
    assert gain["mean"] == sum(gain["per_seed"]) / 2
    assert gain["verdict"] == verdict(low, high)  # the rule fixed in advance
    assert gain["consistent"] == consistent_with(2.4, low, high) and gain["claimed"] == 2.4
    assert rows["t2.vit.voc2007"]["status"] == "pending"
    assert _claims(capsys, "t2.*")["t2.resnet-cut.voc2007"] == gain  # seeded: reproducible

    capsys.readouterr()
    assert main(["claims", "t2.*", *READ]) == 0
    text = capsys.readouterr().out
    line = next(ln for ln in text.splitlines() if ln.startswith("t2.resnet-cut.voc2007"))
    assert gain["verdict"] in line and "+2.4" in line and " 18" in line
    assert "Verdict (rule fixed in advance" in text

    assert main(["report", "t2.*", *READ, "--out", str(workdir / "report")]) == 0
    report = (workdir / "report" / "report.md").read_text()
    assert report.index("## Claims") < report.index("## Table 2")
    claims_section = report.split("## Claims")[1].split("## Table 2")[0]
    assert "| t2.resnet-cut.voc2007 |" in claims_section and gain["verdict"] in claims_section
    assert (workdir / "report" / "figures" / "claims-forest.png").is_file()
    table2 = report.split("## Table 2")[1]
    assert "± " in table2 and "(n=2)" in table2  # seeds: mean ± sd and their number
    assert "Floors on this profile's VOC2007 test set: chance-level mAP" in table2
    assert "best-on-test − best-on-validation" in table2


def test_the_controls_run_on_smoke_and_are_measured(workdir, capsys):
    smoke = ["--profile", "smoke", "--epochs", "1"]
    assert main(["run", "claims:control.*.voc2007", "--seeds", "0", *smoke]) == 0
    capsys.readouterr()
    assert main(["claims", "control.*.voc2007", *smoke, "--json"]) == 0
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == {
        "control.bn-clean.voc2007", "control.bn-mixed.voc2007", "control.loss-scale.voc2007",
    }  # fmt: skip
    assert all(r["status"] == "measured" and r["verdict"] for r in rows.values())
    results = [
        json.loads(path.read_text())
        for path in (workdir / "results" / "smoke").glob("*/result.json")
    ]
    batchnorm = {r["name"]: r["batchnorm"] for r in results if r["kind"] == "eval"}
    assert batchnorm["voc-resnetcut-csra-msl-high-bn-clean"]["reestimated_on"] == "clean"
    mixed = batchnorm["voc-resnetcut-csra-bn-mixed"]
    assert mixed["reestimated_on"] == "clean+masked" and mixed["layers"] > 0
    assert mixed["batches"] == 2 * batchnorm["voc-resnetcut-csra-msl-high-bn-clean"]["batches"]
    half = next(r for r in results if r["name"] == "voc-resnetcut-csra-bce-half")
    assert half["spec"]["clean_loss_weight"] == 0.5
    capsys.readouterr()
    assert main(["claims", "--profile", "smoke", "--resamples", "0"]) == 2
    assert capsys.readouterr().err.startswith("benchmark: error: --resamples: must be at least 1")
