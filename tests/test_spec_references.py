"""Every reference to the specification points to a document in the repository (issue 24,
item 10): `docs/spec.md §N.N`, whose section exists, never the bare name of a file that no
reader of the repository can open."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "docs" / "spec.md"
BARE = re.compile(r"\bSPEC(?: §|'s\b| fixes\b|\.md\b)")
CITED = re.compile(r"docs/spec\.md(?:'s)? §(\d+(?:\.\d+)?)")


def _text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "*.py", "*.md", "*.yaml", "*.toml"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return [REPO / name for name in listed if (REPO / name) != SPEC]


def test_no_bare_spec_reference():
    bare = [
        f"{path.relative_to(REPO)}:{number}"
        for path in _text_files()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if BARE.search(line)
    ]
    assert bare == []


def test_every_cited_section_exists():
    headings = set(re.findall(r"^##+ (\d+(?:\.\d+)?)[ .]", SPEC.read_text(), flags=re.M))
    cited = {
        (section, str(path.relative_to(REPO)))
        for path in _text_files()
        for section in CITED.findall(path.read_text())
    }
    assert cited, "no reference to docs/spec.md found: the pattern is stale"
    assert sorted(c for c in cited if c[0] not in headings) == []
