"""A report one can navigate (issue 19, item 8): a contents list whose links resolve, training
curves as one grid per dataset, constants said once, tables that do not wrap, both commits in
the header, Table 6 bars readable at their own scale; checked in a real headless browser where
one is installed (.ci/run installs Debian's chromium-headless-shell)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from report_fixtures import EXPERIMENTS

from benchmark.cli import main
from benchmark.report import render
from benchmark.report.plots import BarGroup, table6_bars_figure


class _Page(HTMLParser):
    """Ids, in-page links, headings and <img> sources of an HTML page."""

    def __init__(self):
        super().__init__()
        self.ids, self.links, self.h2, self.images, self.nav = set(), [], [], [], False
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href", "").startswith("#"):
            self.links.append(attrs["href"][1:])
        if tag == "h2":
            self.h2.append(attrs.get("id"))
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "nav":
            self.nav = True


def _page(report) -> _Page:
    page = _Page()
    page.feed(render(report, "html"))
    return page


def test_contents_list_links_every_section_and_every_link_resolves(scenario):
    _, report = scenario
    page = _page(report)
    assert page.nav
    assert None not in page.h2, "every section heading has an anchor"
    assert set(page.h2) <= set(page.links), "the contents list links every section"
    assert page.links and all(link in page.ids for link in page.links)
    assert {"table-1", "table-6", "figures"} <= set(page.links)


def test_training_curves_are_one_grid_figure_per_dataset_not_one_per_run(scenario):
    _, report = scenario
    training = [f for f in report.figures if f.section == "Training curves"]
    assert sorted(f.name for f in training) == [
        "training-coco2014", "training-voc2007", "training-wider",
    ]  # fmt: skip
    assert all(f.png is not None for f in training)


def test_a_constant_device_is_said_once_not_on_every_row(scenario):
    _, report = scenario
    device = "NVIDIA H100 80GB HBM3"
    for fmt in ("html", "md"):
        text = render(report, fmt)
        appendix = text.split("Appendix B: throughput")[-1]
        assert appendix.count(device) == 1, fmt  # "Every run: … device NVIDIA H100 …"
        assert f"device {device}." in appendix.split("Every run: ")[1]


def test_tables_scroll_instead_of_wrapping(scenario):
    _, report = scenario
    page = render(report, "html")
    assert re.search(r"table \{[^}]*white-space: nowrap", page)
    assert page.count('<div class="scroll"><table>') == page.count("<table>")


def test_header_shows_the_results_commit_and_the_report_commit(scenario):
    _, report = scenario
    for fmt in ("html", "md"):
        text = render(report, fmt)
        assert "results made at 0123456789ab; report rendered at fedcba987654" in text, fmt


def test_table6_bars_are_each_on_their_own_scale_and_labelled():
    groups = [
        BarGroup("voc2007", {"base": {"mAP": (28.0, 67.9), "CF1": (13.2, 55.0)}}),
        BarGroup("coco2014", {"base": {"mAP": (9.5, 54.2), "CF1": (0.5, 48.4)}}),
    ]
    figure = table6_bars_figure(groups, ("mAP", "CF1"))
    for ax in figure.axes:
        bars = list(ax.patches)
        assert len(bars) == 2
        assert max(b.get_height() for b in bars) >= 0.8 * ax.get_ylim()[1], ax.get_title()
        labels = [t.get_text() for t in ax.texts]
        assert labels == [f"{b.get_height():.1f}" for b in bars], ax.get_title()


def _browser() -> str | None:
    return next(
        (b for b in ("chromium-headless-shell", "chromium", "google-chrome") if shutil.which(b)),
        None,
    )


PROBE = """<script>window.addEventListener('load', () => {
  const images = [...document.images];
  const links = [...document.querySelectorAll('a[href^="#"]')];
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({
    height: document.documentElement.scrollHeight,
    images: images.length,
    broken: images.filter(i => !i.complete || i.naturalWidth === 0).length,
    dangling: links.filter(a => !document.getElementById(a.getAttribute('href').slice(1)))
                   .map(a => a.getAttribute('href')),
    wrapped: [...document.querySelectorAll('td')].filter(td => td.getClientRects().length > 1
             || td.scrollHeight > 2 * parseFloat(getComputedStyle(td).lineHeight || 20)).length,
  });
  document.body.appendChild(out);
});</script>"""


@pytest.mark.skipif(_browser() is None, reason="no headless chromium (.ci/run installs one)")
def test_html_report_in_a_headless_browser(scenario, tmp_path, monkeypatch):
    root, _ = scenario
    monkeypatch.setattr("benchmark.report.images.load_pool", _fake_pool())
    code = main([
        "report", "all", "--profile", "smoke", "--experiments", str(EXPERIMENTS),
        "--results-dir", str(root / "results"), "--format", "html", "--out", str(tmp_path),
    ])  # fmt: skip
    assert code == 0
    page = (tmp_path / "report.html").read_text()
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"))
    done = subprocess.run(
        [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
         "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    measured = json.loads(found.group(1))
    assert measured["images"] >= 7 and measured["broken"] == 0, measured
    assert measured["dangling"] == [], measured
    assert measured["wrapped"] == 0, measured
    # 1280 px wide: every table, figure and appendix of this store fit in this height (the
    # per-run figures stacked one per row made it twice as tall).
    assert measured["height"] < 9000, measured


def _fake_pool():
    from report_fixtures import fake_load_pool

    return fake_load_pool
