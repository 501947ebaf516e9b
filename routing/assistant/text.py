"""Text helpers shared by retrieval, the handoff detector and the classifier.

Customer text arrives with typos, accents, emoji and mixed languages; everything that
compares words goes through :func:`normalize` and :func:`tokens` so they agree.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def wordset(words: str) -> frozenset[str]:
    """A set of words written as one whitespace-separated string (easier to read and edit than a list)."""
    return frozenset(words.split())


STOPWORDS = wordset(
    """
    a about above after again against all am an and any are as at be because been before being below between both
    but by can could did do does doing down during each few for from further had has have having he her here hers
    him his how i if in into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours out over own same she should so some such than that the their them then there these they this
    those through to too under until up very was we were what when where which while who whom why will with would
    you your yours yourself hi hello hey thanks thank please pls plz ok okay hiya im ive id dont cant wont doesnt
    didnt isnt get got still also really just like need want know tell help one thing anyone someone guys
    el la los las de del que y en un una es por para con mi me se le lo al como pero hola gracias
    le la les de des du et est un une pour avec mon ma mes je bonjour merci
    """
)

# Very light stemming: enough that "payouts"/"payout", "charged"/"charge", "connecting"/"connect" meet.
_SUFFIXES = ("ings", "ing", "ies", "ied", "es", "ed", "s")


def normalize(text: str) -> str:
    """Lower-case, accents removed, curly quotes straightened."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def stem(word: str) -> str:
    if len(word) <= 4 or word.isdigit():
        return word
    base = word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            if suffix in ("ies", "ied"):
                return base + "y"
            if suffix == "es" and not base.endswith(("s", "x", "z", "ch", "sh")):
                base = word[:-1]  # "invoices" is "invoice" + s, "taxes" is "tax" + es
            break
    # A final e goes, so "charge", "charges" and "charged" meet on "charg".
    if base.endswith("e") and len(base) > 4:
        base = base[:-1]
    return base


def words(text: str) -> list[str]:
    """Every word, normalized, apostrophes dropped ("don't" -> "dont"), stop words kept."""
    return [w.replace("'", "") for w in _WORD.findall(normalize(text))]


def tokens(text: str) -> list[str]:
    """Content words, stemmed, stop words removed: what retrieval and the classifier compare."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1]


def sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+|\n+", text.strip())
    return [p.strip() for p in parts if p.strip()]


def _within_one_edit(a: str, b: str) -> bool:
    """Whether ``a`` becomes ``b`` with one insertion, deletion, substitution or swap of neighbours."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diffs = [i for i in range(la) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]]
        )
    short, long_ = (a, b) if la < lb else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]


def correct(token: str, vocabulary: frozenset[str] | set[str]) -> str:
    """The vocabulary word a typo means ("payot" -> "payout"), or the token itself.

    Only for words of 5 letters or more, only one edit away, and only when exactly one word fits,
    so real words are not bent into others.
    """
    if token in vocabulary or len(token) < 5 or token.isdigit():
        return token
    matches = [word for word in vocabulary if abs(len(word) - len(token)) <= 1 and _within_one_edit(token, word)]
    return matches[0] if len(matches) == 1 else token
