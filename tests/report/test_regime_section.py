"""A report that says what the regime can say (issue 26, item 5): the rule's checks as tables of
measured numbers and, in the banner and at the top of Claims, a paragraph written from those
numbers — which kinds of claim this regime can test, and why. Checked on constructed checks,
generic over the rule (rows of named numbers, pass or fail per part, claim kinds by parts)."""

from __future__ import annotations

import dataclasses

import pytest

from benchmark.claims.recipe_rule import FLAT, FLOOR, BaselineCheck
from benchmark.report import render
from benchmark.report.regime_section import (
    CheckRow,
    CheckTable,
    ClaimKind,
    Measure,
    Regime,
    grid,
    kind_text,
    paragraph,
    recipe_regime,
    select,
)

FIT, FLOOR_PART, SCALE, CELLS = "fit", "the floor margin", "object scale", "feature cells"
CLEAN = ClaimKind("Clean-accuracy claims (Tables 1–5)", (FIT, FLOOR_PART, SCALE))
MASKED = ClaimKind("Masked-test claims (Table 6, the curves)", (FLOOR_PART, SCALE, CELLS))


def baseline(name: str, gap: float | None, margin: float = 30.0) -> CheckRow:
    """A baseline row: training − test mAP (fit, needs ≥ 10) and the floor margin (≥ 10)."""
    if gap is None:
        return CheckRow(name, (Measure("train − test mAP", "—", None, FIT, "≥ 10"),), pending=True)
    return CheckRow(
        name,
        (
            Measure("test mAP", "70.0", 70.0),  # context: no threshold
            Measure("train − test mAP", f"{gap:+.1f}", gap, FIT, "≥ 10", gap >= 10),
            Measure("above floor", f"{margin:+.1f}", margin, FLOOR_PART, "≥ 10", margin >= 10),
        ),
        concerns=(name,),
    )


def regime(baselines, scale=(6.1, 17.0), cells=(34.0,)) -> Regime:
    datasets = CheckTable("Object scale", "dataset", "datasets", tuple(
        CheckRow(name, (Measure("hidden pairs", f"{v:.1f} %", v, SCALE, "in band",
                                4 <= v <= 8 if name == "voc2007" else 15 <= v <= 22),),
                 concerns=(name,))
        for name, v in zip(("voc2007", "coco2014"), scale, strict=True)
    ))  # fmt: skip
    backbones = CheckTable("Feature cells", "backbone", "backbones", tuple(
        CheckRow(f"net{i}", (Measure("cells hidden", f"{v:.1f} %", v, CELLS, "≥ 30 %", v >= 30),))
        for i, v in enumerate(cells)
    ))  # fmt: skip
    table = CheckTable("Supervised baselines", "baseline", "baselines", tuple(baselines))
    return Regime("The regime rule", "Written before any run.", (table, datasets, backbones),
                  (CLEAN, MASKED))  # fmt: skip


def test_a_kind_is_not_testable_when_every_baseline_fails_a_part_it_needs_with_the_numbers():
    fits = [baseline(f"b{i}", gap) for i, gap in enumerate((2.1, 6.0, 4.4))]
    text = kind_text(regime(fits), CLEAN)
    assert text.startswith("not testable here — 3 of 3 baselines (b0, b1, b2) fail fit")
    assert "(train − test mAP +2.1 … +6.0, needs ≥ 10)" in text
    # the parts that hold are said with their numbers too
    assert "3 of 3 baselines pass the floor margin (above floor +30.0, needs ≥ 10)" in text
    assert "2 of 2 datasets pass object scale (hidden pairs 6.1 % … 17.0 %, needs in band)" in text
    # the masked-test kind does not need the fit: the same regime can test it
    masked = kind_text(regime(fits), MASKED)
    assert masked.startswith("testable — ") and "fit" not in masked
    assert "1 of 1 backbones pass feature cells (cells hidden 34.0 %, needs ≥ 30 %)" in masked


def test_some_failing_rows_make_a_kind_testable_only_where_the_rule_passes():
    rows = [baseline(f"b{i}", 12.0 + i) for i in range(9)] + [
        baseline(f"bad{i}", gap) for i, gap in enumerate((2.1, 4.0, 6.0, 9.9))
    ]
    text = kind_text(regime(rows), CLEAN)
    assert text.startswith("testable only where the rule passes — 4 of 13 baselines fail fit")
    assert "(train − test mAP +2.1 … +9.9, needs ≥ 10)" in text
    assert "bad0" not in text  # more than three failing: counted, not named


def test_a_dataset_or_backbone_part_can_void_a_kind_on_its_own():
    fits = [baseline("b0", 15.0)]
    voc_small = regime(fits, scale=(16.5, 17.0), cells=(17.6,))
    clean, masked = paragraph(voc_small)
    assert clean[0] == CLEAN.name
    assert "1 of 2 datasets (voc2007) fail object scale (hidden pairs 16.5 %" in clean[1]
    assert masked[1].startswith("not testable here — ")
    assert (
        "1 of 1 backbones (net0) fail feature cells (cells hidden 17.6 %, needs ≥ 30 %)"
        in (masked[1])
    )


def test_a_kind_is_judged_only_by_the_rows_its_claims_read():
    # a failing ViT backbone and a failing baseline that no masked claim reads
    rows = [baseline("resnet-csra", 15.0), baseline("sst", 12.0, margin=3.9)]
    measured = regime(rows, cells=(32.0, 17.6))
    reads = dataclasses.replace(
        MASKED, subjects=frozenset({"resnet-csra", "voc2007", "coco2014", "net0"})
    )
    text = kind_text(measured, reads)
    assert text.startswith("testable — "), text
    assert "sst" not in text and "net1" not in text
    assert "1 of 1 baselines pass the floor margin" in text
    # every row, when the kind does not say which it reads
    every = kind_text(measured, MASKED)
    assert every.startswith("testable only where the rule passes") and "(sst) fail" in every


def test_pending_baselines_leave_a_kind_not_known_yet():
    text = kind_text(regime([baseline("b0", 15.0), baseline("b1", None)]), CLEAN)
    assert text.startswith("not known yet — 1 of 2 baselines not measured yet")


def test_the_table_shows_each_number_with_its_threshold_and_the_rows_verdict():
    rows = [baseline("good", 15.0), baseline("bad", 3.0, margin=8.0), baseline("later", None)]
    headers, cells = grid(regime(rows).tables[0])
    assert headers == ["baseline", "test mAP", "train − test mAP (≥ 10)", "above floor (≥ 10)",
                       "rule"]  # fmt: skip
    assert cells[0] == ["good", "70.0", "+15.0", "+30.0", "passes"]
    assert cells[1] == ["bad", "70.0", "+3.0", "+8.0", "fails: fit, the floor margin"]
    assert cells[2] == ["later", "—", "—", "—", "pending"]


def test_a_subset_keeps_the_rows_that_concern_it():
    full = regime([baseline("voc-a", 15.0), baseline("coco-b", 15.0)])
    kept = select(full, {"voc-a", "voc2007"})
    assert [[r.subject for r in t.rows] for t in kept.tables] == [["voc-a"], ["voc2007"], ["net0"]]


def _checks() -> list[BaselineCheck]:
    return [
        BaselineCheck("voc-mcar", "voc2007", ("t1.mcar.voc2007",), 21.7, 84.6, 0.13),
        BaselineCheck("coco-resnetcut-plain", "coco2014", ("t4.resnet-cut.coco2014",), 12.7,
                      21.6, 1.14, ("ends 8.9 above …", "moves 1.14 …"), (FLOOR, FLAT)),
        BaselineCheck("coco-vitl-csra", "coco2014", ("t4.vit-l16-csra.coco2014",)),
    ]  # fmt: skip


def test_the_recipe_rule_in_this_form_judges_each_part_from_the_check():
    rule = recipe_regime("mini", _checks())
    assert recipe_regime("smoke", _checks()) is None  # no rule, nothing to say
    rows = {r.subject: r for r in rule.tables[0].rows}
    assert rows["voc-mcar"].verdict == "passes"
    assert [m.ok for m in rows["coco-resnetcut-plain"].measures if m.part] == [False, False]
    assert rows["coco-vitl-csra"].pending
    ((kind, text),) = paragraph(rule)
    assert text.startswith("testable only where the rule passes — 1 of 2 baselines")
    assert "(coco-resnetcut-plain) fail the floor margin (above floor +8.9, needs ≥ 10)" in text
    assert "fail flatness (change over last two epochs 1.14, needs ≤ 1.0)" in text


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_the_banner_and_the_claims_section_open_with_the_paragraph_and_the_table(scenario, fmt):
    _, report = scenario
    report = dataclasses.replace(report, regime=recipe_regime("mini", _checks()))
    text = render(report, fmt)
    sentence = "fail the floor margin (above floor +8.9, needs ≥ 10)"
    claims = text.index("## Claims" if fmt == "md" else '<h2 id="claims"')
    table1 = text.index("## Table 1:" if fmt == "md" else '<h2 id="table-1"')
    banner, top = text.index(sentence), text.rindex(sentence)
    assert banner < claims < top < table1  # once in the banner, once opening Claims
    rule_row = text.index("coco-resnetcut-plain", top)
    assert rule_row < text.index("Verdict (rule fixed in advance", top) < table1
