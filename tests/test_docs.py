"""The Sphinx site's sources stay complete: every public name is in the API reference and
every user-guide page is reachable.

The build itself (``python -m sphinx -W -b html docs docs/_build/html``, a CI step) checks
that each reference resolves; these checks are the cheap ones that need no Sphinx.
"""

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import sklearn_lt

DOCS = Path(__file__).resolve().parents[1] / "docs"
API = DOCS / "api.rst"
# Written by the build (autosummary, sphinx-gallery, the HTML builder), not sources.
BUILD_OUTPUT = {"_build", "_templates", "auto_examples", "generated"}


def _public_modules_with_all():
    """sklearn_lt and its public submodules (no part starting with "_") that define __all__."""
    names = ["sklearn_lt"] + [info.name for info in
                              pkgutil.walk_packages(sklearn_lt.__path__, "sklearn_lt.")]
    modules = {}
    for name in names:
        if any(part.startswith("_") for part in name.split(".")):
            continue
        module = importlib.import_module(name)
        if hasattr(module, "__all__"):
            modules[name] = list(module.__all__)
    return modules


def _without_comments(rst):
    """``rst`` without its comments (``.. text`` not a directive, target or substitution,
    and the indented lines after it), so that a commented-out section does not count."""
    out, in_comment = [], False
    for line in rst.splitlines():
        if in_comment and (not line.strip() or line[:1].isspace()):
            continue
        in_comment = bool(re.match(r"\.\.(\s|$)(?!\s*(\S+::|_|\|))", line))
        if not in_comment:
            out.append(line)
    return "\n".join(out)


def _api_sections():
    """``{module name: text}`` of docs/api.rst, a section per ``.. automodule::``."""
    parts = re.split(r"^\.\. (?:automodule|module):: *(\S+)\s*$",
                     _without_comments(API.read_text(encoding="utf-8")), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def _names(text, module, name):
    """Whether ``text`` names ``name`` on its own or as ``module.name`` (a submodule)."""
    name = re.escape(name)
    return re.search(rf"(?<![\w.]){name}(?!\w)|{re.escape(module)}\.{name}(?!\w)", text)


def test_comment_stripping():
    rst = ".. TODO inspection\n\n   .. automodule:: x\n\nkept\n.. _label:\n.. note::\n   kept too"
    assert _without_comments(rst) == "kept\n.. _label:\n.. note::\n   kept too"


MODULES = _public_modules_with_all()


def test_the_modules_are_found():
    expected = {"sklearn_lt", "sklearn_lt.heads", "sklearn_lt.datasets", "sklearn_lt.metrics",
                "sklearn_lt.nn", "sklearn_lt.losses", "sklearn_lt.resampling", "sklearn_lt.base",
                "sklearn_lt.exceptions", "sklearn_lt.utils", "sklearn_lt.backbone"}
    assert expected <= set(MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_public_name_is_in_the_api_reference(module):
    sections = _api_sections()
    assert module in sections, f"docs/api.rst has no `.. automodule:: {module}` section"
    missing = [name for name in MODULES[module] if not _names(sections[module], module, name)]
    assert not missing, f"names of {module}.__all__ missing from its docs/api.rst section: " \
                        f"{missing}"


def test_inspection_is_in_the_api_reference():
    try:
        inspection = importlib.import_module("sklearn_lt.inspection")
    except ImportError:
        pytest.skip("sklearn_lt.inspection does not exist yet")
    if not hasattr(inspection, "__all__"):
        pytest.skip("sklearn_lt.inspection has no __all__ yet")
    section = _api_sections().get("sklearn_lt.inspection", "")
    missing = [name for name in inspection.__all__
               if not _names(section, "sklearn_lt.inspection", name)]
    assert not missing, f"enable the sklearn_lt.inspection section of docs/api.rst: {missing}"


def _toctree_entries():
    """Documents named in a toctree of any page, as paths relative to docs/ without suffix."""
    entries = set()
    for page in [*DOCS.rglob("*.md"), *DOCS.rglob("*.rst")]:
        if set(page.relative_to(DOCS).parts) & BUILD_OUTPUT:
            continue
        text = page.read_text(encoding="utf-8")
        blocks = re.findall(r"```\{toctree\}[^\n]*\n(.*?)```", text, re.S)
        blocks += re.findall(r"^\.\. toctree::[^\n]*\n((?:[ \t]+[^\n]*\n|\n)*)", text, re.M)
        for block in blocks:
            for line in block.splitlines():
                line = line.strip()
                if line and not line.startswith(":"):
                    target = line.split("<")[-1].rstrip(">").strip()
                    base = DOCS if target.startswith("/") else page.parent
                    path = (base / target.lstrip("/")).resolve().relative_to(DOCS.resolve())
                    entries.add(path.with_suffix("").as_posix())
    return entries


def test_every_user_guide_page_is_in_a_toctree():
    pages = sorted(p.relative_to(DOCS).with_suffix("").as_posix()
                   for p in (DOCS / "user_guide").glob("*.md"))
    assert "user_guide/index" in pages
    entries = _toctree_entries()
    missing = [page for page in pages if page not in entries]
    assert not missing, f"user-guide pages in no toctree: {missing}"


def test_the_landing_page_links_every_part():
    entries = _toctree_entries()
    assert {"user_guide/index", "auto_examples/index", "api", "changelog"} <= entries
