"""Figures: drawn when their inputs exist, replaced by a note when they do not."""

from __future__ import annotations

import pytest
from report_fixtures import STAMP, FakePool, write_scenario

from benchmark.experiment.plan import PlanOptions
from benchmark.report import build_report, render
from benchmark.report.document import Figure
from benchmark.report.figures import draw
from benchmark.report.images import FigureSkipped, mask_gallery, qualitative_figure
from benchmark.report.plots import condition_means

PNG = b"\x89PNG\r\n\x1a\n"
EXPECTED = {
    "robustness-voc2007", "robustness-coco2014", "table6-bars", "training-voc2007",
    "training-coco2014", "training-wider", "masks",
    "qualitative-voc2007", "qualitative-coco2014",
}  # fmt: skip


def test_every_figure_is_drawn_when_its_inputs_exist(scenario):
    _, report = scenario
    drawn = {f.name: f for f in report.figures}
    assert set(drawn) == EXPECTED
    for figure in drawn.values():
        assert figure.note is None, figure.note
        assert figure.png[:8] == PNG and len(figure.png) > 1024


def test_curves_average_seeds_per_condition():
    rows = [
        {"condition": "bucket:0", "hole_ratio": r, "metric": m, "value": v}
        for r, m, v in ((0.05, "mAP", 90.0), (0.05, "CR", 80.0))
    ]
    other = [{**row, "hole_ratio": 0.07, "value": row["value"] - 2} for row in rows]
    means = condition_means([{"rows": rows}, {"rows": other}])
    ratio, values = means["bucket:0"]
    assert ratio == pytest.approx(0.06)
    assert values == {"mAP": 89.0, "CR": 79.0}


def _models(scenario, dataset="voc2007"):
    from benchmark.store.results import iter_result_files, read_result

    root, _ = scenario
    evals = [read_result(p).data for p in iter_result_files(root / "results")]
    evals = [e for e in evals if e and e["kind"] == "eval"]
    evals = [e for e in evals if e["spec"]["run"]["dataset"] == dataset]
    evals.sort(key=lambda e: "msl" in e["name"])  # baseline first
    return [(e["name"], e) for e in evals]


def test_qualitative_masks_are_the_evaluation_masks(scenario, monkeypatch):
    calls = []

    def load(pool, size, source, cache_dir=None):
        calls.append((pool, size, source))
        return FakePool(size)

    monkeypatch.setattr("benchmark.report.images.load_pool", load)
    png = qualitative_figure("voc2007", _models(scenario), 64, 0, "procedural")
    assert png[:8] == PNG
    assert calls == [("high", 64, "procedural")]


def test_qualitative_figure_is_skipped_when_images_are_missing(scenario, tmp_path):
    models = _models(scenario)
    for _, result in models:
        result["examples"] = {**result["examples"], "files": [str(tmp_path / "gone.jpg")] * 4}
    with pytest.raises(FigureSkipped, match="test image files are missing"):
        qualitative_figure("voc2007", models, 64, 0, "procedural")
    figure = draw(Figure("q", "s", "t"), lambda: qualitative_figure("voc2007", models, 64, 0, "x"))
    assert figure.png is None and figure.note.startswith("skipped: test image files are missing")


def test_a_broken_figure_becomes_a_note_not_a_crash(registry, tmp_path, monkeypatch):
    """No mask module, no finished run: the report still renders, and says why."""

    def unavailable(*args, **kwargs):
        raise FigureSkipped("the mask pools are not available (No module named 'x')")

    monkeypatch.setattr("benchmark.report.images.load_pool", unavailable)
    report = build_report(registry, tmp_path, PlanOptions("smoke"), selector="t6.*", stamp=STAMP)
    notes = {f.name: f.note for f in report.figures}
    assert all(f.png is None for f in report.figures)
    assert "mask pools are not available" in notes["masks"]
    assert "no Table 6 evaluation on VOC2007 has finished" in notes["robustness-voc2007"]
    assert "have not both finished" in notes["qualitative-coco2014"]
    text = render(report, "md")
    assert "- *Irregular masks of the low and high pools (supplement Fig. 6)*: skipped" in text
    assert "![" not in text


def test_figure_errors_are_caught(registry, tmp_path, monkeypatch):
    write_scenario(registry, tmp_path / "results", tmp_path / "images")

    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("benchmark.report.figures.robustness_figure", crash)
    monkeypatch.setattr("benchmark.report.images.load_pool", crash)
    report = build_report(
        registry, tmp_path / "results", PlanOptions("smoke"), selector="t6.msl.voc2007", stamp=STAMP
    )
    notes = {f.name: f.note for f in report.figures}
    assert notes["robustness-voc2007"] == "skipped: could not be drawn (RuntimeError: boom)"
    assert report.table(6).frame["status"].eq("done").all()


def test_gallery_with_the_real_mask_pools(tmp_path):
    pytest.importorskip("benchmark.data.masks")
    png = mask_gallery(32, "procedural", cache_dir=tmp_path)
    assert png[:8] == PNG and len(png) > 1024
