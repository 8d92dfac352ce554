"""CSV, LaTeX and HTML renderings, the written folder, and the failed-runs appendix."""

from __future__ import annotations

import base64
import io
import re
import stat

import pandas as pd
import pytest
from report_fixtures import OOM

from benchmark.errors import UserError
from benchmark.report import render, write_report
from benchmark.report.formats import CSV_COLUMNS


def test_csv_is_tidy_one_row_per_cell_and_metric(registry, scenario):
    _, report = scenario
    frame = pd.read_csv(io.StringIO(render(report, "csv")))
    assert tuple(frame.columns) == CSV_COLUMNS
    expected = sum(len(registry.tables[c.table].metrics) for c in registry.cells)
    assert len(frame) == expected
    assert not frame.duplicated(["table", "row_index", "column"]).any()
    row = frame[(frame.cell == "t6.msl.voc2007") & (frame.metric == "mAP")].iloc[0]
    assert (row.table, row.row, row.column, row.status) == (6, "MSL", "voc2007/mAP", "done")
    assert row.ours == pytest.approx(86.66) and row.paper == pytest.approx(86.7)
    assert row.delta == pytest.approx(-0.04)
    trained = frame[frame.cell == "t2.resnet-cut.voc2007"].set_index("metric")
    assert trained.loc["mAP", "last"] == pytest.approx(93.21)
    cited = frame[frame.cell == "t3.dhc.wider"].set_index("metric")
    assert cited.loc["mAP", "status"] == "cited" and pd.isna(cited.loc["CF1", "paper"])
    failed = frame[frame.cell == "t1.mcar.voc2007"].iloc[0]
    assert failed.status == "failed" and OOM in failed.reason and pd.isna(failed.ours)


def test_latex_uses_booktabs_and_bolds_the_best_per_column(scenario):
    _, report = scenario
    tex = render(report, "latex")
    assert tex.count(r"\toprule") == 6 and tex.count(r"\bottomrule") == 6
    assert r"\usepackage{booktabs}" in tex and tex.rstrip().endswith(r"\end{document}")
    table6 = tex.split("Table 6:")[1]
    rows = {
        line.split(" & ")[0]: line.split(" & ") for line in table6.splitlines() if " & " in line
    }
    msl, csra = rows["MSL"], rows["CSRA ResNet-cut"]
    assert msl[1:4] == [r"\textbf{86.7}", r"\textbf{86.7}", "+0.0"]  # ours, paper, delta (VOC mAP)
    assert csra[1:4] == ["66.7", "67.9", "$-$1.2"]
    table3 = tex.split("Table 3:")[1].split(r"\end{table}")[0]
    assert r"VIT-L16 + CSRA\dag{} & \textbf{89.3} & 89.6" in table3  # best of ours, not of paper
    assert r"\textbf{90.6}" in table3  # the paper's best (MSL) is bold in the paper column
    assert "\\textit{cited}" in table3
    assert "Synthetic data: numbers are not comparable" in tex


def test_html_is_one_file_with_inlined_figures(scenario):
    _, report = scenario
    page = render(report, "html")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == sum(f.png is not None for f in report.figures) > 0
    assert all(base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n" for data in images)
    assert not re.search(r'src="(?!data:)', page)  # nothing to fetch
    assert "<th>VOC2007 mAP</th>\n<th>VOC2007 CR</th>" in page  # the markdown's columns
    assert "86.7 / 86.7 (+0.0)" in page
    assert "<strong>Synthetic data: numbers are not comparable to the paper's.</strong>" in page


def test_failed_and_invalid_runs_are_in_the_appendix_with_their_reason(scenario):
    _, report = scenario
    failures = report.failures.set_index("name")
    assert failures.loc["voc-mcar", "status"] == "failed"
    assert failures.loc["voc-mcar", "reason"] == OOM
    assert failures.loc["voc-mcar", "cells"] == "t1.mcar.voc2007"
    assert failures.loc["voc-sst", "status"] == "invalid"
    assert "checksum mismatch" in failures.loc["voc-sst", "reason"]
    appendix = render(report, "md").split("## Appendix A")[1].split("## Appendix B")[0]
    assert OOM in appendix and "checksum mismatch: the file was edited by hand" in appendix


def test_stray_failed_result_outside_the_plan_is_listed(registry, scenario, tmp_path):
    from benchmark.experiment.plan import PlanOptions
    from benchmark.experiment.profiles import resolve_run
    from benchmark.report import build_report
    from benchmark.store.results import write_result

    spec = resolve_run(registry, "voc-sst", "smoke", epochs=7, mask_source="procedural")
    write_result(
        tmp_path,
        {
            "kind": "train",
            "hash": spec.hash,
            "name": spec.name,
            "status": "failed",
            "error": "disk full",
            "spec": spec.to_dict(),
        },
    )
    report = build_report(registry, tmp_path, PlanOptions("smoke"), figures=False)
    row = report.failures.iloc[0]
    assert (row["name"], row["reason"], row["cells"]) == (
        "voc-sst",
        "disk full",
        "(not in this report's plan)",
    )


def test_throughput_lists_every_finished_run(scenario):
    _, report = scenario
    table = report.throughput.set_index("name")
    assert table.loc["voc-resnetcut-csra", "train_samples_per_s"] == 125.0
    assert table.loc["voc-resnetcut-csra-masked", "eval_samples_per_s"] == 400.0
    assert "voc-mcar" not in table.index
    assert "| voc-resnetcut-csra " in render(report, "md").split("## Appendix B")[1]


def test_small_and_occluded_section_lists_runs_and_masked_evaluations(scenario):
    _, report = scenario
    frame = report.subsets
    train = frame[frame.name == "voc-resnetcut-csra"].iloc[0]
    assert train.condition == "best epoch 2"
    assert train.mAP_small == pytest.approx(93.66 - 6.5)
    assert train.positives_occluded == 25
    high = frame[(frame.name == "voc-resnetcut-csra-msl-high-masked") & (frame.condition == "high")]
    assert high.iloc[0].mAP_occluded == pytest.approx(86.66 - 11.5)
    section = render(report, "md").split("## Small and occluded objects")[1].split("## ")[0]
    assert "| voc-resnetcut-csra " in section and "87.2" in section  # 93.66 - 6.5, one decimal
    assert "Small and occluded objects</h2>" in render(report, "html")


def test_write_report_writes_each_format_and_the_figures(scenario, tmp_path):
    _, report = scenario
    written = write_report(report, tmp_path, ["md", "csv", "latex", "html", "md"])
    names = {p.name for p in written}
    assert {"report.md", "report.csv", "report.tex", "report.html"} <= names
    figures = sorted((tmp_path / "figures").glob("*.png"))
    assert len(figures) == sum(f.png is not None for f in report.figures)
    assert all(p.stat().st_size > 1024 for p in figures)
    markdown = (tmp_path / "report.md").read_text()
    assert all(f"](figures/{p.name})" in markdown for p in figures)
    assert stat.S_IMODE((tmp_path / "report.md").stat().st_mode) & 0o044  # readable by others
    assert not list(tmp_path.glob(".*.tmp"))


def test_unknown_format_is_a_user_error(scenario, tmp_path):
    _, report = scenario
    with pytest.raises(UserError, match="unknown report format 'pdf'"):
        write_report(report, tmp_path, ["md", "pdf"])
    assert not (tmp_path / "report.md").exists()  # nothing half-written


def _with_measured_claims(registry, report):
    """The scenario's report with two measured claims, one voided by a failing baseline."""
    import dataclasses

    from benchmark.claims.claim_registry import load_claims
    from benchmark.claims.measurement import ClaimResult
    from benchmark.claims.recipe_rule import FLAT, BaselineCheck
    from benchmark.report.regime_section import recipe_regime

    claims = {c.id: c for c in load_claims(registry)}
    measured = dict(
        status="measured", seeds=(0, 1, 2), images=500, per_seed=(1.0, 2.0, 3.0), mean=2.0,
        sd=1.0, low=0.5, high=3.5, verdict="supported", interval_verdict="supported", resamples=100,
    )  # fmt: skip
    kept = ClaimResult(claims["t2.vit.voc2007"], consistent=True, **measured)
    voided = ClaimResult(
        claims["t2.resnet-cut.voc2007"], consistent=False, untestable="base moves 2.38", **measured
    )
    failing = BaselineCheck("voc-resnetcut-csra", "voc2007", ("t2.resnet-cut.voc2007",), 21.7,
                            59.2, 2.38, ("moves 2.38 over its last two epochs",),
                            (FLAT,))  # fmt: skip
    return dataclasses.replace(
        report, claims=[kept, voided], regime=recipe_regime("mini", [failing])
    )


def test_every_format_carries_the_claims_and_the_recipe_rule(registry, scenario, tmp_path):
    _, report = scenario
    report = _with_measured_claims(registry, report)
    md, html, tex = (render(report, f) for f in ("md", "html", "latex"))
    for text in (md, html, tex):
        assert "t2.vit.voc2007" in text and "supported (consistent)" in text
        assert "not testable (interval: supported)" in text
    assert md.index("## Claims") < md.index("## Table 1:") and "### The recipe rule" in md
    assert "fails: moves 2.38 over its last two epochs" in md and "The recipe rule" in html
    assert tex.index(r"\subsection*{Claims}") < tex.index("Table 1:")
    write_report(report, tmp_path, ["csv"])
    claims = pd.read_csv(tmp_path / "claims.csv")
    assert list(claims["id"]) == ["t2.vit.voc2007", "t2.resnet-cut.voc2007"]
    assert list(claims["testable"]) == [True, False] and claims["ci95_low"].tolist() == [0.5, 0.5]
    assert claims.loc[1, "untestable_reason"] == "base moves 2.38"
