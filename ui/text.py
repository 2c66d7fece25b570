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


_MARKUP = re.compile(r"([\\`*_\[\]<>!$~#])")  # what can start a link, an image, HTML, code, emphasis, math or a heading


def literal(text: object) -> str:
    """``text`` for a message box or caption, shown as typed: only the characters that can open markup (a link or
    image, raw HTML, code, emphasis, math, a heading) are escaped, so a value from a link or a file cannot pull in a
    remote resource or draw anything, and ordinary punctuation (paths, numbers, ``a.b=c``) stays as it is."""
    return _MARKUP.sub(r"\\\1", " ".join(str(text).splitlines()))
