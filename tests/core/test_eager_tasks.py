"""The suite runs Celery tasks eagerly; one test's threads must not break another's `.get()`.

Celery's "joining would block" flag is process-wide. Eager tasks set it while they run and put back
what they found, so two threads running eager tasks at once can leave it set. These two tests run in
order on one worker (``--dist loadscope``; both use the database, so pytest-django keeps their order):
the first leaves the flag set as that race does, the second
checks that the suite's fixture cleared it.
"""

from __future__ import annotations

import threading

from celery._state import _set_task_join_will_block, task_join_will_block
from celery.result import denied_join_result

from routing import routing_tasks


def test_eager_tasks_in_two_threads_can_leave_the_flag_set(db: object) -> None:
    def run() -> None:
        for _ in range(200):
            with denied_join_result():
                threading.Event().wait(0.0001)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Whether or not the race hit this time, leave the flag as it does when it hits.
    _set_task_join_will_block(True)


def test_the_next_test_can_wait_for_an_eager_result(db: object) -> None:
    assert task_join_will_block() is False
    assert routing_tasks.reassign_unanswered_conversations.delay().get() == 0
