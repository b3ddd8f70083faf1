"""Sphinx configuration of the sklearn-lt documentation.

Build from the repository root (offline; ``-W`` turns every warning into an error and
``nitpicky`` below makes every unresolved cross-reference one)::

    .venv/bin/python -m sphinx -W -b html docs docs/_build/html
"""

import os
import re
import sys
from pathlib import Path

# The gallery runs every example and saves its figures: no display is needed.
os.environ.setdefault("MPLBACKEND", "Agg")
import matplotlib  # noqa: E402

matplotlib.use("Agg")

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # import the working tree, installed or not
sys.path.insert(0, str(DOCS / "_ext"))

import sklearn_lt  # noqa: E402

# -- Project -----------------------------------------------------------------------------
project = "sklearn-lt"
author = "sklearn-lt developers"
copyright = "sklearn-lt developers, BSD-3-Clause"
release = sklearn_lt.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "api_aliases",  # docs/_ext/api_aliases.py: re-exported names resolve to their page
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
default_role = "literal"  # `x` in a docstring is code, not a reference to resolve

# Every cross-reference must resolve: a broken internal link fails the build (with -W).
nitpicky = True
# There is no intersphinx: the build must work offline, so references into other
# packages cannot resolve and are ignored here. Only external names are listed;
# every sklearn_lt.* reference must resolve.
_EXTERNAL = (r"(sklearn|numpy|np|scipy|torch|skorch|imblearn|joblib|matplotlib|mpl"
             r"|pandas|pd|PIL)(\..*)?")
nitpick_ignore_regex = [
    (r"py:.*", _EXTERNAL),
    # Python builtins and the vocabulary of numpydoc type descriptions.
    (r"py:.*", r"(array-like|array_like|ndarray|sparse matrix|dataframe|path-like|callable"
               r"|int|float|bool|str|dict|list|tuple|object|None|iterable|generator"
               r"|FloatingPointError|ValueError|TypeError|RuntimeError|UserWarning"
               r"|Warning|Exception|os\.PathLike|pathlib\.Path|numbers\..*)"),
]

# -- autodoc / autosummary / numpydoc --------------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"  # the numpydoc sections give the types
add_module_names = False
# autosummary lists the members (docs/_templates/autosummary/class.rst); numpydoc's own
# member tables would document every method a second time.
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False  # types stay text: "array-like of shape (n, d)"

# -- MyST --------------------------------------------------------------------------------
myst_heading_anchors = 3  # [text](page.md#a-heading) links

# -- sphinx-gallery ----------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # execute every example
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "remove_config_comments": True,
    "within_subsection_order": "gallery_order.ExampleOrder",  # docs/_ext/gallery_order.py
    # Links the examples' code to these API pages, offline. Recent sphinx-gallery
    # versions do that without it, ignore it and say so in the build log.
    "reference_url": {"sklearn_lt": None},
    "doc_module": ("sklearn_lt",),
    "backreferences_dir": "generated/backreferences",
    "download_all_examples": False,
    "show_memory": False,
    # The summary page of run times loads its table script from a CDN; the site stays offline
    # (each example page still states its own run time).
    "write_computation_times": False,
}

# -- HTML --------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-lt {release}"
# Nothing fetched at build or view time: no version switcher, icon links, analytics,
# announcement URL or edit button.
html_theme_options = {
    "navbar_end": ["theme-switcher"],
    "icon_links": [],
    "check_switcher": False,
    "show_version_warning_banner": False,
    "use_edit_page_button": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
    "show_toc_level": 2,
    "navigation_with_keys": False,
}
html_sidebars = {"index": [], "changelog": []}
html_show_sourcelink = False
html_static_path = ["_static"]
html_css_files = ["sklearn_lt.css"]


# -- Members -----------------------------------------------------------------------------
# Inherited from another package, yet the way to use a sklearn_lt class: documented.
_FOREIGN_MEMBERS_SHOWN = {"fit_resample"}  # PowerResampler's, from imbalanced-learn


def _skip_members(app, what, name, obj, skip, options):
    """Class pages list the documented methods and properties sklearn_lt defines.

    Those inherited from torch.nn.Module or scikit-learn's mixins are documented by
    those projects, and their docstrings are not written for this build. Members
    without a docstring of their own (a torch module's ``forward``, which would show
    torch's) are not documented either.
    """
    if what not in ("method", "property", "attribute"):
        return None
    func = getattr(obj, "fget", None) or getattr(obj, "__func__", obj)
    if name in _FOREIGN_MEMBERS_SHOWN:
        return None
    if not (getattr(func, "__module__", None) or "").startswith("sklearn_lt"):
        return True
    if getattr(func, "__doc__", None) is None:
        return True
    return None


_TYPE_LINE = re.compile(r"^(\s*[\w*]+(?:, [\w*]+)* : )(.*)$")
_TRAILING_UNDERSCORE = re.compile(r"(?<![\\`\w])([A-Za-z]\w*?[A-Za-z0-9])_(?![\w`])")


def _escape_type_lines(app, what, name, obj, options, lines):
    """Escape fitted-attribute names in numpydoc type lines.

    ``coef_ : ndarray of shape (n_classes, n_features_in_)`` is plain text to numpydoc,
    but reStructuredText reads ``n_features_in_`` as a link to a target named
    "n_features_in". Runs before numpydoc turns the sections into field lists.
    """
    for i, line in enumerate(lines):
        match = _TYPE_LINE.match(line)
        if match:
            lines[i] = match.group(1) + _TRAILING_UNDERSCORE.sub(r"\1\\_", match.group(2))


def setup(app):
    app.connect("autodoc-skip-member", _skip_members)
    # numpydoc's own handler runs at the default priority, 500.
    app.connect("autodoc-process-docstring", _escape_type_lines, priority=400)
