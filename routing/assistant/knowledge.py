"""Knowledge base retrieval: the published articles that best match a customer's message.

Scoring is the same everywhere (so the local responder's thresholds mean the same thing on
every database): the share of the message's content words that an article covers, title
and keywords counting fully and the body half, each word weighted by how rare it is in the
candidate articles, damped when only one or two words match. On PostgreSQL the candidates
come from full-text search computed on the fly (no extra columns), on SQLite from all
published articles of the inbox scored in Python (a knowledge base is hundreds of articles).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.db import connection
from django.db.models import Q

from routing.assistant import text

PG_SEARCH_CONFIG = "english"
PG_CANDIDATES = 20
_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)
_BARE_DOMAIN = re.compile(r"\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|app|co|example)\b", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Article:
    """What the assistant needs of a knowledge article (also built from fixtures by the evaluation)."""

    id: int
    title: str
    body: str
    keywords: str = ""
    topic: str = ""


@dataclasses.dataclass(frozen=True)
class ScoredArticle:
    article: Article
    score: float


class KnowledgeIndex:
    """Articles scored against a message in Python."""

    def __init__(self, articles: Iterable[Article]) -> None:
        self.articles = list(articles)
        self._strong: list[set[str]] = []
        self._weak: list[set[str]] = []
        self._phrases: list[list[str]] = []
        df: Counter[str] = Counter()
        for article in self.articles:
            strong = set(text.tokens(f"{article.title} {article.keywords}"))
            weak = set(text.tokens(article.body)) - strong
            self._strong.append(strong)
            self._weak.append(weak)
            self._phrases.append(
                [text.normalize(p).strip() for p in article.keywords.split(",") if len(p.strip().split()) > 1]
            )
            df.update(strong | weak)
        total = max(len(self.articles), 1)
        self._idf = {word: math.log(1 + total / count) for word, count in df.items()}
        self._vocabulary = frozenset(self._idf)

    def search(self, message: str, *, limit: int = 3) -> list[ScoredArticle]:
        query = [
            t for t in dict.fromkeys(text.correct(t, self._vocabulary) for t in text.tokens(message)) if t in self._idf
        ]
        if not query:
            return []
        normalized = " ".join(text.words(message))
        possible = sum(self._idf[t] for t in query)
        scored = []
        for index, article in enumerate(self.articles):
            strong, weak = self._strong[index], self._weak[index]
            gained = 0.0
            strong_hits = 0
            for token in query:
                if token in strong:
                    gained += self._idf[token]
                    strong_hits += 1
                elif token in weak:
                    gained += 0.5 * self._idf[token]
            if gained == 0:
                continue
            coverage = gained / possible
            phrase_bonus = 0.15 if any(p and p in normalized for p in self._phrases[index]) else 0.0
            damping = 1 - 0.4 ** max(strong_hits, 1)
            score = min(1.0, coverage * damping + phrase_bonus)
            scored.append(ScoredArticle(article, round(score, 4)))
        scored.sort(key=lambda s: (-s.score, s.article.id))
        return scored[:limit]


def _to_article(row: object) -> Article:
    return Article(
        id=row.pk,  # type: ignore[attr-defined]
        title=row.title,  # type: ignore[attr-defined]
        body=row.body,  # type: ignore[attr-defined]
        keywords=row.keywords,  # type: ignore[attr-defined]
        topic=row.topic,  # type: ignore[attr-defined]
    )


def published_for_inbox(inbox_id: int | None) -> Q:
    scope = Q(inbox__isnull=True) | Q(inbox_id=inbox_id) if inbox_id is not None else Q(inbox__isnull=True)
    return Q(is_published=True) & scope


def search_articles(message: str, *, inbox_id: int | None, limit: int = 3) -> list[ScoredArticle]:
    """The best published articles for ``message`` in this inbox (and the global ones), best first."""
    from routing.models import KnowledgeArticle

    articles = KnowledgeArticle.objects.filter(published_for_inbox(inbox_id))
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

        words = sorted({re.sub(r"[^a-z0-9]", "", w) for w in text.words(message)} - {""})
        if not words:
            return []
        vector = (
            SearchVector("title", weight="A", config=PG_SEARCH_CONFIG)
            + SearchVector("keywords", weight="A", config=PG_SEARCH_CONFIG)
            + SearchVector("body", weight="B", config=PG_SEARCH_CONFIG)
        )
        # Only [a-z0-9] words joined by "|": safe as a raw tsquery, and any word may match.
        query = SearchQuery(" | ".join(words), search_type="raw", config=PG_SEARCH_CONFIG)
        rows: list[Any] = list(
            articles.annotate(rank=SearchRank(vector, query)).filter(rank__gt=0).order_by("-rank", "pk")[:PG_CANDIDATES]
        )
    else:
        rows = list(articles.order_by("pk"))  # hundreds at most: scored in Python
    return KnowledgeIndex(_to_article(row) for row in rows).search(message, limit=limit)


def allowed_link_hosts(articles: Sequence[Article], extra: Iterable[str] = ()) -> set[str]:
    """Hosts a reply may link to: those named in the articles it was given, and the company's own."""
    hosts = {h.lower() for h in extra if h}
    for article in articles:
        for url in _URL.findall(article.body):
            host = urlsplit(url).hostname
            if host:
                hosts.add(host.lower())
    return hosts


def strip_disallowed_links(reply: str, allowed_hosts: set[str]) -> str:
    """Remove links to hosts that are neither in the knowledge base nor the company's."""

    def allowed(host: str) -> bool:
        host = host.lower()
        return any(host == a or host.endswith("." + a) for a in allowed_hosts)

    def check_url(match: re.Match[str]) -> str:
        host = urlsplit(match.group(0)).hostname or ""
        return match.group(0) if allowed(host) else "[link removed]"

    reply = _URL.sub(check_url, reply)

    def check_bare(match: re.Match[str]) -> str:
        # A bare domain that is part of an e-mail address ("no-reply@acme.com") is left alone.
        start = match.start()
        if start > 0 and reply[start - 1] in "@/.":
            return match.group(0)
        return match.group(0) if allowed(match.group(0)) else "[link removed]"

    return _BARE_DOMAIN.sub(check_bare, reply)
