"""What an evidence dossier holds: the facts gathered once, and each file with its digest.

Its own module so that the dossier's builder and its PDF page both read these types
without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DossierFile:
    path: str
    sha256: str
    size: int
    kind: str


@dataclass
class DossierContents:
    """The dossier's facts, gathered once for the JSON files and the PDF."""

    application: dict[str, Any]
    screening: list[dict[str, Any]]
    linked: dict[str, Any]
    chain: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)  # stored file's path in the dossier, by public id
