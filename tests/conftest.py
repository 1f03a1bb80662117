"""Fixtures shared by every test package: paths, a private data directory, warm pipelines."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from workflow.pipeline import StatementPipeline

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
AUDIO_FIXTURES = FIXTURES / "audio"


def shared_dir() -> Path | None:
    """The project's shared/ folder (dev set, scorer): beside the checkout, or as configured."""
    candidates = [os.environ.get("VOICE_STATEMENT_SHARED"), REPO.parent / "shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "eval").is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def shared() -> Path:
    found = shared_dir()
    if found is None:
        pytest.skip("shared/eval is not beside the checkout (set VOICE_STATEMENT_SHARED)")
    return found


@pytest.fixture(scope="session")
def jfk_path() -> Path:
    return AUDIO_FIXTURES / "jfk.flac"


@pytest.fixture(scope="session")
def jfk_reference() -> str:
    return (FIXTURES / "jfk.txt").read_text(encoding="utf-8").strip()


@pytest.fixture(scope="session", autouse=True)
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test (and every CLI it runs) caches converted models in one private directory."""
    path = tmp_path_factory.mktemp("data")
    previous = os.environ.get("VOICE_STATEMENT_DATA_DIR")
    os.environ["VOICE_STATEMENT_DATA_DIR"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("VOICE_STATEMENT_DATA_DIR", None)
    else:
        os.environ["VOICE_STATEMENT_DATA_DIR"] = previous


@pytest.fixture(scope="session")
def faster_pipeline(data_dir: Path) -> StatementPipeline:
    """faster-whisper with tiny.en at float32: loaded once for the whole session."""
    from workflow.pipeline import StatementPipeline
    from workflow.settings import Settings

    return StatementPipeline(Settings(engine="faster-whisper", data_dir=data_dir))


@pytest.fixture(scope="session")
def openai_pipeline(data_dir: Path) -> StatementPipeline:
    """openai-whisper on the checkpoint converted from the same tiny.en weights, float32."""
    from workflow.pipeline import StatementPipeline
    from workflow.settings import Settings

    return StatementPipeline(Settings(engine="openai-whisper", data_dir=data_dir))
