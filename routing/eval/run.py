"""Evaluate the local responder on the labelled customer messages in ``messages.jsonl``.

    python -m routing.eval.run [--split test|dev|all] [--errors]
    python -m routing.eval.run --cross-validate
    python -m routing.eval.run --check [PATH] [--errors]

Prints handoff recall (messages that should reach a person and do), the false-handoff rate
(messages the assistant should answer but hands off) and topic accuracy. The knowledge base is
the demo company's help centre (``conversations.demo.ARTICLES``), held in memory: no database
is needed. Tune on the dev split only and report the test split.

``--check`` evaluates ``check.jsonl`` instead: messages written apart from this file, after it, as a second
held-out set to tune against without looking at the test split. Nothing learns from it (the classifier reads
only this file's dev split and its own ``training.jsonl``), so its figures are an estimate too.

A message's split follows from its text alone (:func:`split_of`: about 40% dev), so a message
added later lands in dev or test without anyone choosing. The statistical classifier
(:mod:`routing.assistant.classifier`) learns from the dev split (and from its own training-only
messages, never from this file's test split); ``--cross-validate`` shows how it does on dev messages it
was not trained on, which is how its threshold was chosen.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

MESSAGES = Path(__file__).with_name("messages.jsonl")
# An independent check set: never trained on, never part of the dev/test split (see the module docstring).
CHECK = Path(__file__).with_name("check.jsonl")
TARGETS = {"handoff_recall": 0.95, "false_handoff_rate": 0.10, "topic_accuracy": 0.85}


@dataclasses.dataclass
class Outcome:
    text: str
    expect: str
    topic: str
    predicted: str
    predicted_topic: str
    reason: str


def split_of(text: str) -> str:
    """Where a message belongs: "dev" (tune on it) or "test" (held out), from the hash of its text."""
    return "dev" if int(hashlib.sha256(text.encode("utf-8")).hexdigest(), 16) % 10 < 4 else "test"


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inbox_project.settings")
    import django

    django.setup()


def load(split: str) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in MESSAGES.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row for row in rows if split == "all" or row.get("split") == split]


def load_check(path: Path = CHECK) -> list[dict[str, Any]]:
    """The messages of the independent check set."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def knowledge_index() -> Any:
    from routing.assistant.knowledge import Article, KnowledgeIndex

    specs: tuple[Any, ...]
    try:
        from conversations.demo import ARTICLES

        specs = tuple(ARTICLES)
    except ImportError:  # pragma: no cover - the demo data is part of the product
        specs = ()
    articles = [
        Article(
            id=index,
            title=spec.title,
            body=spec.body.replace("{domain}", "example.com"),
            keywords=spec.keywords,
            topic=spec.topic,
        )
        for index, spec in enumerate(specs, start=1)
    ]
    if not articles:
        articles = [Article(1, "Resetting your password", "Tap Forgot password.", "password, reset", "technical")]
    return KnowledgeIndex(articles)


def evaluate(rows: list[dict[str, Any]]) -> list[Outcome]:
    from routing.assistant import triage, triggers
    from routing.assistant.local import LocalResponder
    from routing.assistant.types import AssistantContext

    index = knowledge_index()
    responder = LocalResponder()
    keywords = triggers.handoff_keywords([])  # an inbox with the default keywords
    outcomes = []
    for row in rows:
        text = row["text"]
        articles = tuple(index.search(text, limit=3))
        trigger = triggers.customer_trigger(text, keywords=keywords)
        result = responder.answer(AssistantContext(message=text, articles=articles))
        if trigger is not None:
            predicted, reason = "handoff", trigger.reason + (f":{trigger.detail}" if trigger.detail else "")
        elif result.is_handoff:
            predicted, reason = "handoff", result.handoff_reason
        else:
            predicted, reason = "answer", f"confidence {result.confidence:.2f}"
        outcomes.append(
            Outcome(text, row["expect"], row["topic"], predicted, triage.classify_topic(text, articles), reason)
        )
    return outcomes


def metrics(outcomes: list[Outcome]) -> dict[str, float]:
    should_handoff = [o for o in outcomes if o.expect == "handoff"]
    should_answer = [o for o in outcomes if o.expect == "answer"]
    return {
        "handoff_recall": sum(o.predicted == "handoff" for o in should_handoff) / max(len(should_handoff), 1),
        "false_handoff_rate": sum(o.predicted == "handoff" for o in should_answer) / max(len(should_answer), 1),
        "topic_accuracy": sum(o.predicted_topic == o.topic for o in outcomes) / max(len(outcomes), 1),
    }


CV_FOLDS = 5
# The share of should-answer messages the model alone may hand off (see classifier.HANDOFF_MIN_SCORE).
MODEL_FALSE_HANDOFF_BUDGET = 0.045


@dataclasses.dataclass
class Fold:
    expect: str
    topic: str
    handoff_score: float
    predicted_topic: str


def cross_validate(rows: list[dict[str, Any]], folds: int = CV_FOLDS) -> list[Fold]:
    """Each row scored by a model trained on the other folds (rows are dealt to folds in file order)."""
    from routing.assistant import classifier

    extra = classifier.load_extra_examples()
    scored = []
    for fold in range(folds):
        training = extra + [row for index, row in enumerate(rows) if index % folds != fold]
        held_out = [row for index, row in enumerate(rows) if index % folds == fold]
        models = classifier.train(training)
        for row in held_out:
            topics = models.topic.probabilities(row["text"])
            scored.append(
                Fold(
                    expect=row["expect"],
                    topic=row["topic"],
                    handoff_score=models.handoff_score(row["text"]),
                    predicted_topic=max(topics, key=lambda name: topics[name]),
                )
            )
    return scored


def cross_validate_responder(rows: list[dict[str, Any]], folds: int = CV_FOLDS) -> list[Outcome]:
    """The whole local responder (rules and model) on each dev row, its model trained on the other folds."""
    from routing.assistant import classifier

    extra = classifier.load_extra_examples()
    outcomes: list[Outcome] = []
    for fold in range(folds):
        training = extra + [row for index, row in enumerate(rows) if index % folds != fold]
        held_out = [row for index, row in enumerate(rows) if index % folds == fold]
        with classifier.substituted(classifier.train(training)):
            outcomes.extend(evaluate(held_out))
    return outcomes


def threshold_for(scored: list[Fold], false_handoff_rate: float) -> float:
    """The lowest score threshold at which at most that share of should-answer messages is handed off."""
    answers = sorted((f.handoff_score for f in scored if f.expect == "answer"), reverse=True)
    allowed = int(false_handoff_rate * len(answers))
    # Just above the first answer score that would exceed the budget.
    return answers[allowed] + 1e-9 if allowed < len(answers) else float("-inf")


def _print_cross_validation() -> None:
    from routing.assistant import classifier

    rows = load("dev")
    scored = cross_validate(rows)
    handoffs = [f for f in scored if f.expect == "handoff"]
    answers = [f for f in scored if f.expect == "answer"]
    print(f"The model alone, {CV_FOLDS}-fold cross-validation on the dev split ({len(rows)} messages):")
    suggested = threshold_for(scored, MODEL_FALSE_HANDOFF_BUDGET)
    for label, threshold in (("configured", classifier.HANDOFF_MIN_SCORE), ("suggested", suggested)):
        recall = sum(f.handoff_score >= threshold for f in handoffs) / max(len(handoffs), 1)
        false = sum(f.handoff_score >= threshold for f in answers) / max(len(answers), 1)
        print(f"  {label:<10} threshold {threshold:7.4f}: recall {recall:6.1%}, false handoff {false:6.1%}")
    accuracy = sum(f.predicted_topic == f.topic for f in scored) / max(len(scored), 1)
    print(f"  topic accuracy (model alone) {accuracy:6.1%}")
    print(f"The local responder (rules and model), {CV_FOLDS}-fold cross-validation on the dev split:")
    _print_metrics(metrics(cross_validate_responder(rows)))


def _print_metrics(results: dict[str, float]) -> None:
    for name, value in results.items():
        target = TARGETS[name]
        ok = value <= target if name == "false_handoff_rate" else value >= target
        sign = "<=" if name == "false_handoff_rate" else ">="
        print(f"  {name:<20} {value:6.1%}   target {sign} {target:.0%}   {'ok' if ok else 'MISSED'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["test", "dev", "all"], default="test")
    parser.add_argument("--errors", action="store_true", help="list every wrong decision and topic")
    parser.add_argument(
        "--cross-validate", action="store_true", help="how the model alone does on dev messages it did not learn"
    )
    parser.add_argument(
        "--check",
        nargs="?",
        const=str(CHECK),
        metavar="PATH",
        help="evaluate the independent check set (check.jsonl, or another file) instead of a split",
    )
    args = parser.parse_args(argv)
    _setup_django()
    if args.cross_validate:
        _print_cross_validation()
        return 0
    rows = load_check(Path(args.check)) if args.check else load(args.split)
    name = "check set" if args.check else f"{args.split} split"
    outcomes = evaluate(rows)
    results = metrics(outcomes)
    handoffs = sum(o.expect == "handoff" for o in outcomes)
    print(f"Local responder on the {name}: {len(outcomes)} messages ({handoffs} should hand off)")
    _print_metrics(results)
    if args.split != "test" and not args.check:
        print("  (the classifier learnt from the dev split: these figures are not an estimate; see --cross-validate)")
    if args.errors:
        print("\nWrong handoff decisions:")
        for o in outcomes:
            if o.predicted != o.expect:
                print(f"  expected {o.expect:<7} got {o.predicted:<7} ({o.reason}): {o.text}")
        print("\nWrong topics:")
        for o in outcomes:
            if o.predicted_topic != o.topic:
                print(f"  expected {o.topic:<9} got {o.predicted_topic:<9}: {o.text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
