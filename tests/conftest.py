"""Shared fixtures: the real seeds, their parsed digests, default settings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from newsletter.config import Settings, load_settings
from newsletter.model import Digest
from newsletter.parse import parse_files

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"


@pytest.fixture(autouse=True)
def scratch_build_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Builds that name no cache folder use a scratch one, never the checkout's .cache/."""
    monkeypatch.setenv("NEWSLETTER_CACHE_DIR", str(tmp_path_factory.mktemp("build-cache")))


@pytest.fixture(autouse=True)
def developer_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run as on a developer's terminal, even in CI: the log-privacy tests set `CI`
    themselves (newsletter.privacy masks addresses when it is set)."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return SEEDS


@pytest.fixture(scope="session")
def digests() -> list[Digest]:
    return parse_files([SEEDS])


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings(Path(REPO / "tests" / "data" / "test-settings.toml"))


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A writable copy of the seeds folder."""
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target
