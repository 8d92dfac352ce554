"""Every import inside a function says why it is not at the top of its module (issue 25.4).

An import belongs at the top of its module unless there is a reason: it keeps a heavy library
(torch, scipy, pandas, matplotlib, timm, submitit) out of a light verb, it breaks an import
cycle, or a failure to import must stay local. The reason is a comment on the import's own lines
or on a comment line just above; a run of imports may share one comment above its first import.
A bare ``# noqa`` is no reason.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

import pytest

from benchmark.store.fingerprint import PACKAGE_ROOT, SCIENCE_SOURCES

MODULES = sorted(p.relative_to(PACKAGE_ROOT).as_posix() for p in PACKAGE_ROOT.rglob("*.py"))
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
IMPORTS = (ast.Import, ast.ImportFrom)
# tool directives that say nothing about why: `noqa: F401`, `type: ignore[...]`, `fmt: skip`
DIRECTIVE = re.compile(
    r"noqa(:\s*[A-Z]+[0-9]+(\s*,\s*[A-Z]+[0-9]+)*)?|type:\s*ignore(\[[^]]*])?|fmt:\s*\w+"
)


def reason_comments(source: str) -> tuple[set[int], set[int]]:
    """Lines holding a comment that gives a reason, and those of them that hold nothing else."""
    lines, alone = set(), set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        text = DIRECTIVE.sub("", token.string.lstrip("#")).strip(" \t—–-:;,.")
        if text:
            lines.add(token.start[0])
            if not token.line[: token.start[1]].strip():
                alone.add(token.start[0])
    return lines, alone


def unexplained_imports(source: str) -> list[int]:
    """Line numbers of the function-level imports of ``source`` that give no reason."""
    commented, alone = reason_comments(source)

    def explained(stmt: ast.stmt) -> bool:
        own = range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1)
        return any(line in commented for line in own) or stmt.lineno - 1 in alone

    found: list[int] = []

    def check(body: list[ast.stmt]) -> None:
        run: list[ast.stmt] = []  # consecutive imports share the comment above the first
        for stmt in [*body, None]:
            if isinstance(stmt, IMPORTS):
                run.append(stmt)
                continue
            if run and not explained(run[0]):
                found.extend(s.lineno for s in run if not explained(s))
            run = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for value in ast.iter_fields(node):
            children = value[1] if isinstance(value[1], list) else [value[1]]
            statements = [c for c in children if isinstance(c, ast.stmt)]
            if in_function and statements:
                check(statements)
            for child in children:
                if isinstance(child, ast.AST):
                    visit(child, in_function or isinstance(child, FUNCTIONS))

    visit(ast.parse(source), False)
    return sorted(found)


@pytest.mark.parametrize("module", MODULES)
def test_every_function_level_import_gives_its_reason(module: str) -> None:
    path = PACKAGE_ROOT / module
    source = path.read_text(encoding="utf-8")
    missing = unexplained_imports(source)
    lines = source.splitlines()
    listed = "\n".join(f"  {module}:{n}: {lines[n - 1].strip()}" for n in missing)
    if missing and module in SCIENCE_SOURCES:
        # A science source's bytes are its results' fingerprint (store/fingerprint.py): adding a
        # comment would mark every committed result stale. Its imports get their reasons when
        # those results are rerun anyway.
        pytest.skip(f"science source, frozen until its results are rerun:\n{listed}")
    assert not missing, (
        "function-level imports without a reason (move each to the module's top, or say on "
        f"its line or the line above why it is here):\n{listed}"
    )


def test_a_comment_on_the_line_or_above_is_a_reason_and_a_bare_noqa_is_not() -> None:
    snippet = (
        "import json\n"  # 1: module level, nothing to say
        "def f():\n"
        "    import torch  # torch: this verb only\n"  # 3
        "    x = 1  # a trailing comment of other code\n"
        "    import numpy\n"  # 5: the comment above is another statement's
        "    # scipy: only when measuring\n"
        "    import scipy\n"  # 7
        "    import yaml  # noqa: F401\n"  # 8: a directive alone
        "    import tabulate  # noqa: F401 — registers the formats\n"  # 9
    )
    assert unexplained_imports(snippet) == [5, 8]


def test_a_run_of_imports_shares_the_comment_above_its_first() -> None:
    shared = "def f():\n    # torch: this verb only\n    import torch\n\n    from a import b\n"
    assert unexplained_imports(shared) == []
    broken = "def f():\n    import torch\n    x = 1\n    # torch\n    from a import b\n"
    assert unexplained_imports(broken) == [2]
    nested = "class C:\n    def m(self):\n        if x:\n            import torch\n"
    assert unexplained_imports(nested) == [4]
