"""The built-in responder: answers from the knowledge base by retrieval, so the product works offline.

It never writes anything of its own beyond a few fixed sentences: a reply is the best
article's title and its sentences closest to the question, so nothing outside the knowledge
base (another conversation, these instructions) can end up in it.
"""

from __future__ import annotations

from routing.assistant import classifier, text, triage, triggers
from routing.assistant.knowledge import ScoredArticle
from routing.assistant.types import AssistantContext, AssistantResult

# Below this retrieval score the best article is probably not about the question.
ANSWER_MIN_SCORE = 0.35
MAX_SENTENCES = 3
# Sentiment (-1 angry .. 1 happy) at or below which an unanswerable message goes to a person.
UNHAPPY = -0.5
MAX_REPLY_CHARS = 600

FALLBACK_REPLY = (
    "I'm not sure I have the answer to that. Could you tell me a little more? "
    "If you'd rather talk to a person, just say so and I'll bring someone in."
)


def _best_sentences(article_body: str, message: str) -> list[str]:
    wanted = set(text.tokens(message))
    sentences = text.sentences(article_body)
    scored = [(len(wanted & set(text.tokens(sentence))), -index, sentence) for index, sentence in enumerate(sentences)]
    chosen = sorted(scored, reverse=True)[:MAX_SENTENCES]
    if not chosen or chosen[0][0] == 0:
        chosen = [(0, -i, s) for i, s in enumerate(sentences[:2])]
    return [sentence for _, _, sentence in sorted(chosen, key=lambda item: -item[1])]


def compose_reply(best: ScoredArticle, message: str) -> str:
    reply = f"{best.article.title}: " + " ".join(_best_sentences(best.article.body, message))
    if len(reply) > MAX_REPLY_CHARS:
        reply = reply[: MAX_REPLY_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return reply


class LocalResponder:
    name = "local"

    def answer(self, context: AssistantContext) -> AssistantResult:
        articles = context.articles
        topic = triage.classify_topic(context.message, articles)
        urgency = triage.urgency(context.message)
        if triggers.asks_for_person(context.message):
            return AssistantResult(
                action="handoff", handoff_reason="customer_asked", confidence=1.0, topic=topic, urgency=urgency
            )
        reason = triggers.needs_staff(context.message) or ("urgent" if urgency == "urgent" else "")
        best_score = articles[0].score if articles else 0.0
        if (
            not reason
            and best_score < ANSWER_MIN_SCORE
            and triage.sentiment(context.message) <= UNHAPPY
            and not triggers.asks_how_to(context.message)
        ):
            # An upset customer whose message the knowledge base does not answer: a fallback would make it worse.
            # (Not a how-to question said crossly: "hate how small the text is, can I make it bigger?")
            reason = "unhappy_unanswered"
        if (
            not reason
            and not triggers.declines_person(context.message)
            and classifier.reads_like_handoff(context.message)
        ):
            # Worded unlike any rule above, but like the labelled messages that needed a person.
            reason = "reads_like_handoff"
        if reason:
            return AssistantResult(
                action="handoff", handoff_reason=reason, confidence=1.0, topic=topic, urgency=urgency
            )
        if articles and articles[0].score >= ANSWER_MIN_SCORE:
            best = articles[0]
            return AssistantResult(
                action="reply",
                reply=compose_reply(best, context.message),
                confidence=round(min(best.score, 0.99), 2),
                topic=topic,
                urgency=urgency,
                article_ids=(best.article.id,),
            )
        score = articles[0].score if articles else 0.0
        return AssistantResult(
            action="reply", reply=FALLBACK_REPLY, confidence=round(score / 2, 2), topic=topic, urgency=urgency
        )
