"""Every code block of the documentation runs as written (conventions: tests/docs/snippets.py).

One test per page: its blocks run in order in a fresh folder, so a page whose code no longer works with the
package fails here, naming the page, the line and the output. Pages that start a DAQ run are slow.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import snippets

MAX_NOT_RUN = 4


def _page_params() -> list:
    return [
        pytest.param(
            page,
            id=str(page.relative_to(snippets.DOCS)),
            # the pages that serve or connect on the address they document (ports 8080, 5555) run one after
            # another in one test process even under -n; the others anywhere
            marks=[
                *([pytest.mark.xdist_group("doc-ports")] if snippets.listens(page) else []),
                *([pytest.mark.slow] if snippets.is_slow(page) else []),
            ],
        )
        for page in snippets.pages()
    ]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("page", _page_params())
def test_page_blocks_run(page: Path, tmp_path: Path) -> None:
    ran = snippets.run_page(page, tmp_path)
    print(f"{page.name}: {ran} block(s) run")


def test_every_tutorial_has_runnable_code() -> None:
    tutorials = sorted((snippets.DOCS / "tutorials").glob("*.md"))
    assert tutorials, "docs/tutorials/ holds no page"
    for page in tutorials:
        assert any(b.runs for b in snippets.blocks(page)), f"{page.name}: no block is run"


def test_blocks_not_run_are_few_and_say_why() -> None:
    skipped = [b for page in snippets.pages() for b in snippets.blocks(page) if b.no_run is not None]
    for block in skipped:
        print(f"not run: {block.where}: {block.no_run}")
    assert len(skipped) <= MAX_NOT_RUN, f"{len(skipped)} blocks are not run; make them runnable"


def test_a_broken_snippet_fails(tmp_path: Path) -> None:
    """The runner reports failures: a page with a failing block of each kind fails at that block."""
    page = tmp_path / "broken.md"
    cases = {
        "python": "import mimocorb\nmimocorb.no_such_function()\n",
        "console": "$ mimocorb validate missing_setup.yaml\nOK\n",
        "bash": "# only a comment, no command\n",
        "yaml": "key: [unclosed\n",
    }
    for language, text in cases.items():
        page.write_text(f"# broken\n\n```{language}\n{text}```\n", encoding="utf-8")
        (block,) = snippets.blocks(page)
        assert block.runs
        with pytest.raises(AssertionError, match=r"broken\.md:3"):
            snippets.run_block(block, tmp_path, tmp_path)


def test_file_blocks_are_written_and_used(tmp_path: Path) -> None:
    page = tmp_path / "files.md"
    page.write_text(
        "<!-- file: pkg/data.txt -->\n```text\n42\n```\n\n```python\n"
        "from pathlib import Path\nassert Path('pkg/data.txt').read_text() == '42\\n'\n```\n",
        encoding="utf-8",
    )
    written, check = snippets.blocks(page)
    assert written.file == "pkg/data.txt" and not written.runs and check.runs
    for block in (written, check):
        snippets.run_block(block, tmp_path, tmp_path)


def test_blocks_inside_list_items_run_too(tmp_path: Path) -> None:
    """A block indented under a list item is found, its indentation removed, and run like any other."""
    page = tmp_path / "list.md"
    page.write_text(
        "1. First step:\n\n   ```python\n   import sys\n   sys.exit(3)\n   ```\n\n2. Done.\n",
        encoding="utf-8",
    )
    (block,) = snippets.blocks(page)
    assert block.runs and block.text == "import sys\nsys.exit(3)\n"
    with pytest.raises(AssertionError, match=r"list\.md:3"):
        snippets.run_block(block, tmp_path, tmp_path)
