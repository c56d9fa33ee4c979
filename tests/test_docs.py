"""The README and the pages under docs/ point at each other: every page they name exists, and every
section they cite by title ("X" in docs/page.md) is a heading or a bold paragraph title there."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
# where the repository's own code and recipes cite a page
SOURCES = PAGES + sorted(ROOT.glob("wavenet_vocoder/**/*.py")) + sorted(ROOT.glob("benchmarks/*.py")) + \
    sorted(ROOT.glob("egs/**/*.sh")) + sorted(ROOT.glob("egs/**/*.py"))


def titles(page):
    """Headings and bold paragraph titles (``**Title.**``) of a markdown page, without a final full stop."""
    found = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"#+ (.*)", line)
        if heading:
            found.add(heading.group(1).strip())
        bold = re.match(r"\*\*([^*]+?)\.?\*\*", line)
        if bold:
            found.add(bold.group(1).strip())
    return found


def test_the_docs_pages_exist_and_are_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pages = sorted((ROOT / "docs").glob("*.md"))
    assert pages, "docs/ holds no pages"
    for page in pages:
        assert f"](docs/{page.name})" in readme, f"README.md does not link docs/{page.name}"


def test_every_docs_page_named_exists():
    missing = [f"{source.relative_to(ROOT)} names docs/{name}"
               for source in SOURCES for name in sorted(set(re.findall(r"docs/([a-z_]+\.md)", source.read_text(encoding="utf-8"))))
               if not (ROOT / "docs" / name).is_file()]
    assert not missing, "pages that do not exist: " + "; ".join(missing)


def cited_sections(text):
    """(title, page) for each section cited as "Title" in docs/page.md or docs/page.md, "Title" (a title
    may wrap onto the next line, after a script comment's "#")."""
    cited = re.findall(r'"([^"\n]+(?:\n[# ]*[^"\n]*)?)" in docs/([a-z_]+\.md)', text)
    cited += [(title, page) for page, title in re.findall(r'docs/([a-z_]+\.md),\s+"([^"\n]+(?:\n[# ]*[^"\n]*)?)"', text)]
    return [(re.sub(r"\s+#?\s*", " ", title).strip(), page) for title, page in cited]


def test_every_section_cited_in_a_docs_page_is_there():
    cited = [(source, title, page) for source in SOURCES for title, page in cited_sections(source.read_text(encoding="utf-8"))]
    assert len(cited) >= 10, "the README cites sections of docs/ pages; the pattern found too few"
    known = {page.name: titles(page) for page in (ROOT / "docs").glob("*.md")}
    # (a page that does not exist is the test above's to report)
    wrong = [f'{source.relative_to(ROOT)}: "{title}" in docs/{page}' for source, title, page in cited
             if page in known and title not in known[page]]
    assert not wrong, "cited sections that the page does not have: " + "; ".join(wrong)


def test_the_title_finder_and_the_citation_pattern(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Top\n\ntext\n\n## A section\n\n**A bold title.** Its text.\n**Another** one\n", encoding="utf-8")
    assert titles(page) == {"Top", "A section", "A bold title", "Another"}
    text = 'see "A wrapped\n# title" in docs/a.md, and docs/b_c.md, "Plain" here; "Not cited" in the README'
    assert cited_sections(text) == [("A wrapped title", "a.md"), ("Plain", "b_c.md")]
