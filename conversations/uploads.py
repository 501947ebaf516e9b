"""Safe names for stored files: no paths, no hidden files, no invisible characters."""

from __future__ import annotations

import re
import unicodedata

_UNSAFE = re.compile(r"[^\w.\- ()+]")


def safe_filename(name: str, *, default: str = "attachment") -> str:
    # Keep only the last path part, whichever separator the sender used.
    name = re.split(r"[\\/]", name or "")[-1]
    name = unicodedata.normalize("NFKC", name)
    # Drop control, format (zero-width, bidi overrides) and other invisible characters.
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in ("C", "Z") or ch == " ")
    name = _UNSAFE.sub("_", name).strip(" .")  # no hidden files, no trailing dots
    name = re.sub(r"_+", "_", name)
    if not name:
        name = default
    stem, dot, ext = name.rpartition(".")
    if dot and len(name) > 150:
        name = f"{stem[: 150 - len(ext) - 1]}.{ext[:20]}"
    return name[:150]
