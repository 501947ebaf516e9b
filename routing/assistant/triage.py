"""Triage: the topic of a message, how urgent it sounds and how unhappy the customer is.

The topic is scored from weighted terms per topic (``settings.ASSISTANT_TOPICS`` may replace
the default list) plus the topic of the best-matching knowledge article, weighted by how well
it matched. Urgency and sentiment are small lexicons; the priority also rises for VIP contacts.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

from django.conf import settings

from conversations.models import Priority
from routing.assistant import classifier, text, triggers
from routing.assistant.knowledge import ScoredArticle

GENERAL = "general"

# Terms are stemmed like messages are (see text.tokens); phrases are matched on normalized words.
DEFAULT_TOPICS: dict[str, dict[str, float]] = {
    "billing": {
        "virement": 3,
        "get paid": 3,
        "fraud": 2,
        "fraudulent": 2,
        "transaction": 1,
        "bill": 2,
        "billing": 3,
        "invoice": 3,
        # "Charge" is also what a card reader does ("takes 10 sec to charge", "charging cable", "in charge"):
        # only as the money taken from the customer.
        "charged me": 3,
        "charged my": 3,
        "charged us": 3,
        "charged for": 3,
        "charged twice": 3,
        "a charge": 2,
        "the charge": 2,
        "this charge": 2,
        "charges on": 2,
        "charges from": 2,
        "monthly charge": 3,
        "extra charge": 2,
        "you charge": 2,
        "refund": 3,
        "subscription": 3,
        "plan fee": 2,
        "monthly fee": 3,
        "payment failed": 3,
        "card declined": 3,
        "receipt for my": 2,
        "vat": 3,
        "tax id": 3,
        "overcharged": 3,
        "double charged": 3,
        "cancel": 2,
        "downgrade": 3,
        "upgrade": 1,
        "payout": 3,
        "paid": 1,
        "deposit": 3,
        "bank account": 2,
        "money": 2,
        "balance": 2,
        "statement": 2,
        "finance": 2,
        "fee": 2,
        "fees": 2,
        "chargeback": 3,
        "dispute": 3,
        "cobro": 3,
        "factura": 3,
        "reembolso": 3,
        "cobrado": 3,
        "pago": 2,
        "facture": 3,
        "remboursement": 3,
        "paiement": 2,
        "prelevement": 3,
        "abonnement": 3,
        "suscripcion": 3,
    },
    "technical": {
        "report": 2,
        "sales report": 3,
        "csv": 3,
        "cashier": 2,
        "employee": 2,
        "ring up": 2,
        "turn off": 1,
        "turn on": 1,
        "setting": 2,
        "take payment": 3,
        "take card payments": 3,
        "process payment": 3,
        "receipt": 1,
        "business name": 2,
        "tax exempt": 3,
        "set up tax": 3,
        "modifier": 2,
        "error": 2,
        "bug": 3,
        "crash": 3,
        "broken": 2,
        "card machine": 3,
        "is down": 2,
        "system down": 3,
        "not working": 3,
        "doesnt work": 3,
        "wont": 1,
        "connect": 2,
        "bluetooth": 3,
        "wifi": 3,
        "wi fi": 3,
        "ethernet": 3,
        "printer": 3,
        "print": 2,
        "reader": 2,
        "terminal": 2,
        "password": 3,
        "login": 3,
        "log in": 3,
        "sign in": 3,
        "locked": 2,
        "2fa": 3,
        "verification code": 3,
        "code": 1,
        "app": 1,
        "update": 1,
        "sync": 3,
        "integration": 2,
        "quickbooks": 2,
        "shopify": 2,
        "api": 3,
        "webhook": 3,
        "offline": 2,
        "freez": 3,
        "slow": 2,
        "screen": 2,
        "battery": 3,
        "pair": 2,
        "reset": 2,
        "install": 2,
        "zapier": 2,
        "export": 2,
        "excel": 2,
        "staff": 2,
        "permission": 2,
        "passcode": 3,
        "glitch": 3,
        "loading": 2,
        "black screen": 3,
        "no funciona": 3,
        "contrasena": 3,
        "impresora": 3,
        "lector": 2,
        "ne marche pas": 3,
        "mot de passe": 3,
        "imprimante": 3,
        "bloque": 2,
        "fonctionne pas": 3,
        "tips": 2,
        "tip": 2,
        "tax rate": 2,
        "tax setting": 2,
    },
    "sales": {
        "pricing": 3,
        "price": 3,
        "prices": 3,
        "cost": 2,
        "how much": 3,
        "quote": 3,
        "demo": 3,
        "trial": 2,
        "buy": 3,
        "purchase": 3,
        "plan": 1,
        "plans": 2,
        "compare": 2,
        "starter": 2,
        "growth": 2,
        "pro plan": 2,
        "discount": 3,
        "volume pricing": 3,
        "locations": 2,
        "new store": 2,
        "second location": 3,
        "sign up": 2,
        "interested": 3,
        "enterprise": 3,
        "sales": 1,
        "sales team": 3,
        "salesperson": 3,
        "order": 2,
        "return": 2,
        "bulk": 2,
        "precio": 3,
        "cuanto cuesta": 3,
        "comprar": 3,
        "prix": 3,
        "combien": 3,
        "acheter": 3,
        "devis": 3,
        "shipping": 3,
        "ship": 2,
        "deliver": 2,
        "delivery": 2,
        "tracking": 2,
        "my order": 3,
        "package": 2,
        "parcel": 2,
        "sales rep": 3,
        "envio": 3,
        "livraison": 3,
        "hardware order": 2,
    },
    GENERAL: {"customer service": 3, "opening hours": 3, "support hours": 3, "located": 2, "thank": 1},
}


@dataclasses.dataclass(frozen=True)
class Triage:
    topic: str
    urgency: str  # low, normal, high, urgent
    sentiment: float  # -1 (angry) .. 1 (happy)


def topics() -> Mapping[str, Mapping[str, float]]:
    configured = getattr(settings, "ASSISTANT_TOPICS", None)
    return configured if isinstance(configured, dict) and configured else DEFAULT_TOPICS


def _stemmed(words: Sequence[str]) -> str:
    return " " + " ".join(text.stem(w) for w in words) + " "


def _term_hits(message: str, terms: Mapping[str, float]) -> float:
    stems = set(text.tokens(message))
    words = text.words(message)
    joined = " " + " ".join(words) + " "
    # Phrases match word for word or stem for stem ("process payments" meets "process payment").
    joined_stems = _stemmed(words)
    score = 0.0
    for term, weight in terms.items():
        if " " in term:
            if f" {term} " in joined or _stemmed(term.split()) in joined_stems:
                score += weight
        elif text.stem(term) in stems or f" {term} " in joined:
            score += weight
    return score


# How much the best article's topic counts, times its score. Less when the customer is asking for a
# person: what retrieval finds in "can someone look at my account" is noise, not the subject, so
# then the article alone cannot reach TOPIC_MIN_SCORE; it only adds to the message's own terms.
ARTICLE_WEIGHT = 4.0
ARTICLE_WEIGHT_PERSON_REQUEST = 1.0
TOPIC_MIN_SCORE = 1.5
# How much the learnt model's probability of a topic counts (see routing.assistant.classifier): as much
# as a strong term at full certainty. 3 did best in cross-validation on the dev split (2 and 4 did worse).
MODEL_WEIGHT = 3.0


def classify_topic(message: str, articles: Sequence[ScoredArticle] = ()) -> str:
    table = topics()
    scores = {name: _term_hits(message, terms) for name, terms in table.items()}
    # A general article says the message has no particular topic; it does not outvote the message's own terms.
    if articles and articles[0].article.topic in scores and articles[0].article.topic != GENERAL:
        weight = ARTICLE_WEIGHT_PERSON_REQUEST if triggers.asks_for_person(message) else ARTICLE_WEIGHT
        scores[articles[0].article.topic] += weight * articles[0].score
    for name, probability in classifier.topic_probabilities(message).items():
        if name in scores:  # an inbox's own topic list may not have the model's topics
            scores[name] += MODEL_WEIGHT * probability
    best, value = max(scores.items(), key=lambda item: (item[1], item[0] == GENERAL))
    if value < TOPIC_MIN_SCORE:
        return GENERAL if GENERAL in table else best
    return best


_URGENT = (
    "urgent",
    "urgently",
    "asap",
    "emergency",
    "immediately",
    "right now",
    "right away",
    "critical",
    "cant take",
    "can't take",
    "cannot take",
    "losing money",
    "losing sales",
    "losing customers",
    "line of customers",
    "outage",
    "not working at all",
    "stopped working",
    # The shop at a standstill: "the whole system is down", "customers are waiting".
    "system is down",
    "everything is down",
    "terminals are down",
    "all down",
    "whole system",
    "terminal down",
    "nothing works",
    "nothing is working",
    "customers waiting",
    "customers are waiting",
    "customers walking out",
    "customers are walking out",
    "customers are leaving",
    "queue of customers",
    "help now",
    "cant sell",
    "can't sell",
    "cannot sell",
    "all offline",
    "caiu",
    "en panne",
    "urgente",
    "urgencia",
    "inmediato",
    "ya mismo",
    "urgence",
    "immediatement",
    "dringend",
    "sofort",
)
_HIGH = (
    "today",
    "as soon as",
    "soon as possible",
    "quickly",
    "still waiting",
    "again",
    "third time",
    "second time",
    "days",
    "weeks",
    "deadline",
    "hoy",
    "aujourd",
)
_NEGATIVE = (
    "angry",
    "furious",
    "frustrated",
    "frustrating",
    "annoyed",
    "ridiculous",
    "unacceptable",
    "terrible",
    "awful",
    "worst",
    "horrible",
    "disappointed",
    "disgusting",
    "scam",
    "rip off",
    "ripoff",
    "useless",
    "incompetent",
    "pathetic",
    "lawyer",
    "sue",
    "complaint",
    "fed up",
    "sick of",
    "joke",
    "wtf",
    "hate",
    "never again",
    "molesto",
    "enojado",
    "pesimo",
    "inaceptable",
    "estafa",
    "furieux",
    "inadmissible",
    "nul",
    "arnaque",
    "upset",
    "pissed",
    "mad",
    "sucks",
    "waste of time",
    "nightmare",
    "disgrace",
    "shocking",
    "appalling",
    "unbelievable",
    "ffs",
    "ignored",
    "ignoring me",
    "not happy",
    "unhappy",
    "had enough",
    "lost patience",
    "harta",
    "harto",
    "en colere",
    "marre",
    "sauer",
    "verargert",
)
# Faces that say the same.
_ANGRY_EMOJI = ("\U0001f620", "\U0001f621", "\U0001f624", "\U0001f92c", "\U0001f4a2")
_POSITIVE = (
    "thanks",
    "thank you",
    "great",
    "love",
    "awesome",
    "perfect",
    "appreciate",
    "gracias",
    "merci",
    "excellent",
)


def _count(joined: str, lexicon: Sequence[str]) -> int:
    return sum(1 for term in lexicon if f" {term} " in joined)


def sentiment(message: str) -> float:
    joined = " " + " ".join(text.words(message)) + " "
    negative = _count(joined, _NEGATIVE) + (1 if message.count("!") >= 3 else 0)
    negative += sum(1 for face in _ANGRY_EMOJI if face in message)
    letters = [c for c in message if c.isalpha()]
    if len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.7:
        negative += 1  # shouting
    positive = _count(joined, _POSITIVE)
    total = negative + positive
    return 0.0 if total == 0 else (positive - negative) / total


# "Not urgent", "nothing urgent", "an urgent flag for orders", "mark it as urgent": the word is there, the urgency
# is not.
_NOT_URGENT = re.compile(
    r"\b(not|nothing|isnt|no|no es|pas)( really| very| that| too| super)? (urgent|urgente|critical)\b"
    r"|\b(mark|marks|marked|marking|flag|flagged|tag|tagged|set|label|labelled|labeled)( \w+){0,3} as urgent\b"
    r"|\burgent (order |orders |ticket |tickets )?(flags?|tags?|labels?|buttons?|options?|settings?|status|field|"
    r"filter|column|icon|colou?r|threshold|thresholds|alerts?|notifications?|mode)\b"
)


def urgency(message: str) -> str:
    joined = " " + _NOT_URGENT.sub(" ", " ".join(text.words(message))) + " "
    if _count(joined, _URGENT):
        return "urgent"
    if _count(joined, _HIGH):
        return "high"
    return "normal"


def triage(message: str, articles: Sequence[ScoredArticle] = ()) -> Triage:
    return Triage(topic=classify_topic(message, articles), urgency=urgency(message), sentiment=sentiment(message))


def priority_for(*, urgency_level: str, sentiment_score: float, vip: bool) -> Priority:
    """The priority the assistant asks for: urgency words, an unhappy customer, a VIP each raise it."""
    rank = {"low": Priority.LOW, "normal": Priority.NORMAL, "high": Priority.HIGH, "urgent": Priority.URGENT}.get(
        urgency_level, Priority.NORMAL
    )
    if sentiment_score <= -0.5:
        rank = max(rank, Priority.HIGH)
    if vip:
        rank = Priority(min(max(rank, Priority.NORMAL) + 1, Priority.URGENT))
    return Priority(rank)
