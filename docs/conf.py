"""Sphinx configuration of the provider's docs (``make docs``).

Nothing here reaches the network: no intersphinx, no external link check. Parameter tables,
connection extras, errors and the API reference are generated from the live classes at build time
(``_ext/kling_docs.py``), so they cannot go stale.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
# Importing the provider imports Airflow, which reads AIRFLOW_HOME at import (``make docs`` sets it).
os.environ.setdefault("AIRFLOW_HOME", str(DOCS.parent / "build" / "airflow-home"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)

project = "airflow-provider-kling"
author = "airflow-provider-kling contributors"
copyright = "2026, airflow-provider-kling contributors"
release = "0.1.0"

extensions = ["sphinx.ext.autodoc", "kling_docs"]
exclude_patterns = ["_build", "snippets"]
# Every cross-reference of the standard domain (:ref:, :doc:, :term:) must resolve; Python object
# references in docstrings may point outside these pages (Airflow's classes) and are not checked.
nitpicky = True
nitpick_ignore_regex = [(r"py:.*", r"(?s).*")]  # (?s): a target may span lines
autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
autodoc_typehints = "none"
autodoc_member_order = "bysource"
# Airflow's own docs theme (sphinx-airflow-theme, a dev dependency); _templates drops what belongs to
# airflow.apache.org (its event banner, page rating and "suggest a change" links), _static/kling.css
# wraps long names in the side bars and lets code blocks scroll.
html_theme = "sphinx_airflow_theme"
html_theme_options = {
    "navbar_links": [{"href": "index", "text": "Documentation"}],
    "hide_website_buttons": True,
}
html_title = "airflow-provider-kling"
html_sidebars = {"**": ["globaltoc.html", "searchbox.html"]}
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["kling.css"]

# Values the prose quotes, taken from the code.
from airflow_provider_kling.get_provider_info import DEFAULT_BASE_URL  # noqa: E402

rst_epilog = f"""
.. |default_host| replace:: ``{DEFAULT_BASE_URL}``
"""
