"""HTML from the outside world, made safe to show agents; and plain text derived from it.

Decisions:
- An allow-list of formatting tags and attributes (nh3/ammonia); scripts, styles, forms,
  frames, event handlers and ``javascript:`` URLs never survive.
- Links keep http(s)/mailto/tel targets, open in a new tab, and carry rel="noopener noreferrer".
- Images load only from the mail itself (``cid:``, the inline parts kept as attachments).
  Remote images are dropped by default: they are tracking pixels as often as content, and
  loading them would tell the sender when an agent read the mail. Their alt text remains.
- Inline styles are kept for the layout-only properties email relies on; anything that can
  load a URL (backgrounds) or cover the page (position) is removed.
"""

from __future__ import annotations

import html as html_lib
import re

import nh3

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "center", "code", "col", "colgroup", "dd", "del", "div",
    "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol",
    "p", "pre", "q", "s", "small", "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot",
    "th", "thead", "tr", "tt", "u", "ul",
}  # fmt: skip

ALLOWED_ATTRIBUTES = {
    "*": {"style", "title", "dir", "lang", "align"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height"},
    "font": {"color", "face", "size"},
    "table": {"border", "cellpadding", "cellspacing", "width", "bgcolor"},
    "td": {"colspan", "rowspan", "width", "valign", "bgcolor"},
    "th": {"colspan", "rowspan", "width", "valign", "bgcolor"},
    "tr": {"valign", "bgcolor"},
    "col": {"span", "width"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "blockquote": {"cite"},
}

ALLOWED_STYLE_PROPERTIES = {
    "color", "font", "font-family", "font-size", "font-style", "font-weight", "line-height", "text-align",
    "text-decoration", "text-indent", "text-transform", "vertical-align", "white-space", "width", "height",
    "max-width", "min-width", "margin", "margin-top", "margin-right", "margin-bottom", "margin-left", "padding",
    "padding-top", "padding-right", "padding-bottom", "padding-left", "border", "border-top", "border-right",
    "border-bottom", "border-left", "border-collapse", "border-color", "border-style", "border-width",
    "border-radius", "background-color", "list-style-type", "display",
}  # fmt: skip

URL_SCHEMES = {"http", "https", "mailto", "tel", "cid"}


def _attribute_filter(element: str, attribute: str, value: str) -> str | None:
    if element == "img" and attribute == "src":
        return value if value.strip().lower().startswith("cid:") else None
    if element == "a" and attribute == "href" and value.strip().lower().startswith("cid:"):
        return None
    return value


def sanitize_html(raw: str) -> str:
    """The mail's HTML with everything that could run, track or phish removed."""
    if not raw.strip():
        return ""
    cleaned = nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style", "head", "title", "noscript", "template", "iframe", "object"},
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        strip_comments=True,
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        url_schemes=URL_SCHEMES,
        filter_style_properties=ALLOWED_STYLE_PROPERTIES,
    )
    return cleaned.strip()


_BLOCK_END = re.compile(r"(?i)<\s*(br|hr|/?p|/?div|/?tr|/?li|/?h[1-6]|/?blockquote|/?table)\b[^>]*>")
_CELL_END = re.compile(r"(?i)<\s*/t[dh]\s*>")


def html_to_text(raw: str) -> str:
    """Readable plain text of an HTML mail, for the body, previews and search."""
    if not raw.strip():
        return ""
    safe = nh3.clean(raw, clean_content_tags={"script", "style", "head", "title"})
    safe = _CELL_END.sub("\t", _BLOCK_END.sub("\n", safe))
    text = html_lib.unescape(nh3.clean(safe, tags=set()))
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
