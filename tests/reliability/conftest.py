"""What every reliability test shares: the size it runs at and the report of its figures.

The tests run scaled down by default, to fit CI; ``pytest tests/reliability --long`` runs them at
the sizes ``docs/reliability.md`` quotes. Each test records its figures (uploads accepted,
statements lost, p95 of reads, faults survived...) in the session's report, written at the end
to ``benchmarks/results/reliability.json`` (or ``$VOICE_STATEMENT_RELIABILITY_REPORT``) with
the machine it ran on.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.conftest import REPO

T = TypeVar("T")


@dataclass(frozen=True)
class Scale:
    """The size a reliability test runs at: CI's or the full one (``--long``)."""

    long: bool

    def pick(self, ci: T, full: T) -> T:
        """``full`` under ``--long``, else ``ci``."""
        return full if self.long else ci


@pytest.fixture(scope="session")
def scale(pytestconfig: pytest.Config) -> Scale:
    return Scale(long=bool(pytestconfig.getoption("--long")))


class Report:
    """Figures from this run, by section (``load``, ``faults``, ``bad_input``...)."""

    def __init__(self, *, long: bool) -> None:
        self.long = long
        self.sections: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def record(self, section: str, name: str, value: Any) -> None:
        """Keep ``value`` as ``sections[section][name]`` (JSON-serialisable)."""
        with self._lock:
            self.sections.setdefault(section, {})[name] = value

    def path(self) -> Path:
        configured = os.environ.get("VOICE_STATEMENT_RELIABILITY_REPORT")
        if configured:
            return Path(configured)
        return REPO / "benchmarks" / "results" / "reliability.json"

    def write(self) -> Path | None:
        if not self.sections:
            return None
        # benchmarks.common is the one place the machine is described.
        from benchmarks.common import write_results

        return write_results(
            "reliability",
            {"long": self.long, "sections": self.sections},
            out=self.path(),
        )


@pytest.fixture(scope="session")
def reliability_report(scale: Scale) -> Iterator[Report]:
    report = Report(long=scale.long)
    yield report
    report.write()
