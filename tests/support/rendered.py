"""What a person reads on a rendered page, and the words that must not be there in Chinese:
English strings of the project's and Django's catalogues left untranslated, and raw codes of
the project's vocabularies."""

from __future__ import annotations

import functools
import gettext
import re
from html.parser import HTMLParser
from pathlib import Path

import django
from django.conf import settings
from django.db import models

# Attributes a person reads (tooltips, screen readers, buttons drawn from inputs).
READ_ATTRIBUTES = {"alt", "title", "aria-label", "placeholder", "aria-description"}
SKIPPED_ELEMENTS = {"script", "style", "template", "code", "pre", "noscript"}


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED_ELEMENTS:
            self.skipping.append(tag)
        values = dict(attrs)
        for name in READ_ATTRIBUTES:
            if values.get(name):
                self.pieces.append(values[name].strip())
        if tag == "input" and values.get("type") in {"submit", "button"} and values.get("value"):
            self.pieces.append(values["value"].strip())

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in SKIPPED_ELEMENTS:
            self.skipping.pop()

    def handle_endtag(self, tag: str) -> None:
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()

    def handle_data(self, data: str) -> None:
        if not self.skipping and data.strip():
            self.pieces.append(" ".join(data.split()))


def visible_text(html: str) -> list[str]:
    """Return the text nodes and read attributes of the page, whitespace folded."""
    reader = _Reader()
    reader.feed(html)
    return [piece for piece in reader.pieces if piece]


def _catalogue(path: Path) -> dict[str, str]:
    """Return {English msgid: translation} of a compiled catalogue (plural forms by their singular)."""
    with path.open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    entries: dict[str, str] = {}
    for key, translation in catalog.items():
        msgid = key[0] if isinstance(key, tuple) else key
        if msgid and isinstance(msgid, str):
            entries.setdefault(msgid.split("\x04")[-1], translation)
    return entries


@functools.cache
def _english() -> tuple[frozenset[str], tuple[re.Pattern[str], ...]]:
    """Return the English strings that have a Chinese translation: those without placeholders as a
    set, those with placeholders as patterns a whole text node would match."""
    django_root = Path(django.__file__).parent
    catalogues = [
        *(Path(p) / "zh_Hans" / "LC_MESSAGES" / "django.mo" for p in settings.LOCALE_PATHS),
        django_root / "conf" / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.mo",
        django_root / "contrib" / "admin" / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.mo",
        django_root / "contrib" / "auth" / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.mo",
    ]
    plain: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    for catalogue in catalogues:
        for msgid, translation in _catalogue(catalogue).items():
            text = " ".join(msgid.split())
            # Words kept as they are in Chinese too (CNY, SHA-256, URL) say nothing.
            if text == " ".join(translation.split()) or len(re.findall(r"[A-Za-z]", text)) < 2:
                continue
            if "%(" in text or "%s" in text or "%d" in text:
                parts = re.split(r"%\([a-z_]+\)[sd]|%[sd]", text)
                if sum(len(part.strip()) for part in parts) >= 6:
                    patterns.append(re.compile(".+?".join(re.escape(part) for part in parts)))
            else:
                plain.add(text)
    return frozenset(plain), tuple(patterns)


def untranslated(texts: list[str], *, data: frozenset[str] = frozenset()) -> list[str]:
    """Return the text nodes that are an English string of a catalogue, untranslated.
    ``data``: values people typed (names, statements) that may equal such a string."""
    plain, patterns = _english()
    found = []
    for text in texts:
        if text in data or not re.search(r"[A-Za-z]{2}", text):
            continue
        bare = text.rstrip(":：…. ").strip()
        if text in plain or bare in plain or any(p.fullmatch(text) for p in patterns):
            found.append(text)
    return found


@functools.cache
def _codes() -> re.Pattern[str]:
    """Every code of the project's vocabularies that a person should never read as it is (those
    with an underscore or a dot: a single plain word may be an ordinary word too)."""
    from refunds import states, vocab  # noqa: PLC0415
    from refunds.errors import ErrorCode  # noqa: PLC0415
    from screening.core import FindingCode  # noqa: PLC0415

    codes: set[str] = {str(code) for code in ErrorCode} | {str(code) for code in FindingCode}
    for module in (states, vocab):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, models.Choices) and value is not models.Choices:
                codes |= {str(code) for code in value.values}
    wordy = sorted((code for code in codes if "_" in code or "." in code), key=len, reverse=True)
    return re.compile(r"(?<![\w./-])(" + "|".join(map(re.escape, wordy)) + r")(?![\w/-])")


RAW_VALUES = {"True", "False", "None"}
# A duration as Python prints it ("2 days, 0:00:00"), not as a person says it.
RAW_DURATION = re.compile(r"\b\d+ days?, \d+:\d\d:\d\d\b|^\d+:\d\d:\d\d$")


def raw_codes(texts: list[str]) -> list[str]:
    """Return the text nodes that show a vocabulary code, or a bare Python value, as it is."""
    pattern = _codes()
    return [text for text in texts if text in RAW_VALUES or pattern.search(text) or RAW_DURATION.search(text)]
