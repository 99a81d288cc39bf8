"""Fixtures of the screening-core tests: the dev set, built once per session with fixed seeds."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import pytest

from screening.core import ReferenceAnalysis, ScreeningReport, analyse_reference, screen_evidence
from tests.screening.core import devset


@dataclass
class DevSet:
    references: list[tuple[str, object, bytes]]
    analyses: list[ReferenceAnalysis]
    samples: list[devset.Sample]
    reports: dict[str, ScreeningReport]
    directory: Path

    def of_kind(self, *kinds: str) -> list[devset.Sample]:
        return [s for s in self.samples if s.kind in kinds]


@pytest.fixture(scope="session")
def dev_set(tmp_path_factory: pytest.TempPathFactory) -> DevSet:
    directory = tmp_path_factory.mktemp("screening-devset")
    cache = directory / "devset.pickle"
    if cache.exists():
        references, samples = pickle.loads(cache.read_bytes())
    else:
        references, samples = devset.build()
        cache.write_bytes(pickle.dumps((references, samples)))
    analyses = [analyse_reference(data) for _, _, data in references]
    reports = {
        s.name: screen_evidence(
            s.data, references=[analyses[i] for i in s.candidates], with_artifacts=s.kind == "forgery"
        )
        for s in samples
    }
    for name, _, data in references:
        (directory / f"ref-{name}.jpg").write_bytes(data)
    for s in samples:
        (directory / f"{s.name}.jpg").write_bytes(s.data)
    return DevSet(references, analyses, samples, reports, directory)
