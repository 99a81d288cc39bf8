"""Fixtures of the screening-core tests: the dev set, built once per session with fixed seeds."""

from __future__ import annotations

import fcntl
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
def dev_set(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> DevSet:
    directory = tmp_path_factory.mktemp("screening-devset")
    # Building and screening the set takes a minute or more. Under pytest-xdist both processes
    # of the run need it: the first builds it under a lock in the run's shared temporary folder,
    # the other reads what it wrote. A single-process run keeps it to itself.
    shared = directory if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    with open(shared / "screening-devset.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cache = shared / "screening-devset.pickle"
        if cache.exists():
            references, samples, analyses, reports = pickle.loads(cache.read_bytes())
        else:
            references, samples = devset.build()
            analyses = [analyse_reference(data) for _, _, data in references]
            reports = {
                s.name: screen_evidence(
                    s.data, references=[analyses[i] for i in s.candidates], with_artifacts=s.kind == "forgery"
                )
                for s in samples
            }
            cache.write_bytes(pickle.dumps((references, samples, analyses, reports)))
    for name, _, data in references:
        (directory / f"ref-{name}.jpg").write_bytes(data)
    for s in samples:
        (directory / f"{s.name}.jpg").write_bytes(s.data)
    return DevSet(references, analyses, samples, reports, directory)
