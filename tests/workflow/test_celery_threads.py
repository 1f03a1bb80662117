"""Worker processes on one machine share its cores instead of each taking all of them."""

from __future__ import annotations

import os

from workflow.celery_app import threads_per_process


def test_processes_share_the_cores() -> None:
    cores = os.cpu_count() or 1
    assert threads_per_process(0, 1) == cores
    assert threads_per_process(0, 2) == max(1, cores // 2)
    assert threads_per_process(0, cores * 4) == 1  # never zero threads


def test_configured_threads_win() -> None:
    assert threads_per_process(3, 2) == 3
