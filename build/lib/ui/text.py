"""Strings from the data (class names, file names) made literal for Streamlit's Markdown.

Captions, ``st.markdown`` and message boxes render GitHub-flavoured Markdown plus Streamlit's directives (``:red[…]``,
``:material/…:``, ``$…$``); a class folder named ``**x** [y](http://…)`` would be drawn as markup. :func:`md` escapes
every ASCII punctuation character with a backslash (CommonMark's escape), so the name shows as typed.
"""

from __future__ import annotations

import re

_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character


def md(text: object) -> str:
    """``text`` with every Markdown / directive character escaped, for captions and Markdown elements."""
    return _PUNCT.sub(r"\\\1", str(text))
