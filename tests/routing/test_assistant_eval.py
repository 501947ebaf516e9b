"""The labelled evaluation set and its script."""

from __future__ import annotations

from routing.eval import run


def test_labelled_set_is_large_varied_and_split():
    rows = run.load("all")
    assert len(rows) >= 200
    assert {row["expect"] for row in rows} == {"answer", "handoff"}
    assert {row["topic"] for row in rows} == {"billing", "technical", "sales", "general"}
    assert {row["split"] for row in rows} == {"dev", "test"}
    assert len({row["text"] for row in rows}) == len(rows)


def test_eval_script_reports_the_three_figures(capsys):
    assert run.main(["--split", "test"]) == 0
    out = capsys.readouterr().out
    for name in ("handoff_recall", "false_handoff_rate", "topic_accuracy"):
        assert name in out


def test_metrics_count_what_they_say():
    outcomes = [
        run.Outcome("a", "handoff", "billing", "handoff", "billing", ""),
        run.Outcome("b", "handoff", "billing", "answer", "sales", ""),
        run.Outcome("c", "answer", "sales", "handoff", "sales", ""),
        run.Outcome("d", "answer", "sales", "answer", "sales", ""),
    ]
    assert run.metrics(outcomes) == {"handoff_recall": 0.5, "false_handoff_rate": 0.5, "topic_accuracy": 0.75}


def test_every_message_is_in_the_split_its_text_decides():
    rows = run.load("all")
    assert all(row["split"] == run.split_of(row["text"]) for row in rows)


CHECK_SETS = ("check.jsonl", "check2.jsonl", "check3.jsonl", "check4.jsonl", "check5.jsonl")


def test_the_check_sets_are_labelled_and_apart_from_the_labelled_set_the_training_messages_and_each_other():
    from routing.assistant import classifier

    elsewhere = {row["text"].lower() for row in run.load("all") + classifier.load_extra_examples()}
    for name in CHECK_SETS:
        rows = run.load_check(run.CHECK.with_name(name))
        texts = {row["text"].lower() for row in rows}
        assert len(rows) >= 90
        assert len(texts) == len(rows)
        assert {row["expect"] for row in rows} == {"answer", "handoff"}
        assert {row["topic"] for row in rows} == {"billing", "technical", "sales", "general"}
        assert not texts & elsewhere
        elsewhere |= texts


def test_eval_script_evaluates_a_check_set(capsys):
    assert run.main(["--check"]) == 0
    out = capsys.readouterr().out
    assert "check set: 242 messages" in out
    for name in ("handoff_recall", "false_handoff_rate", "topic_accuracy"):
        assert name in out
