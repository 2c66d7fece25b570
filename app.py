"""Unlearning Audit Dashboard — the entry point: ``streamlit run app.py`` (``make run``, ``unlearn-audit serve``).

The page configuration and the navigation: every page of ``pages/`` registered with ``st.navigation`` under a section
title (``ui/nav.py`` lists them), all shown in the sidebar. Each page draws the shared sidebar (``ui.state.sidebar``)
itself, so a page also runs on its own (``AppTest.from_file("pages/3_Confidence.py")``).
"""

import streamlit as st

from ui.nav import SECTIONS

st.set_page_config(page_title="Unlearning audit", page_icon="🧹", layout="wide")
page = st.navigation(
    {section: [st.Page(p.path, title=p.title, icon=p.icon, default=(p.title == "Overview")) for p in pages]
     for section, pages in SECTIONS.items()},
    expanded=True,  # every page visible: no "View more"
)
page.run()
