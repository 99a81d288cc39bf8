"""Provenance metadata: AIGC implicit labels, C2PA manifests, software, capture time.

Everything here reads metadata the decoder already collected; nothing decodes pixels.
"""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from .report import Finding

__all__ = ["RawMetadata", "collect_raw_metadata", "provenance_findings", "find_aigc_label", "read_c2pa"]

# EXIF tags (base IFD and Exif sub-IFD) that screening reads.
_MAKE, _MODEL, _SOFTWARE, _DESCRIPTION, _DATETIME = 0x010F, 0x0110, 0x0131, 0x010E, 0x0132
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL, _USER_COMMENT = 0x9003, 0x9011, 0x9286

# Bound on how much text one file can make us parse, so a metadata bomb stays cheap.
_MAX_TEXT = 2_000_000


@dataclass(frozen=True)
class RawMetadata:
    """Metadata strings collected at decode time; all values are already decoded text."""

    exif: dict[str, str] = field(default_factory=dict)
    xmp: str = ""
    text: dict[str, str] = field(default_factory=dict)
    c2pa: dict[str, Any] | None = None


def _as_text(value: Any) -> str:
    if isinstance(value, bytes):
        return _decode_bytes(value)
    text = str(value)
    # Pillow reads EXIF ASCII fields as Latin-1; phones and Chinese editors write UTF-8
    # there ("美图秀秀"). Undo that when the bytes are valid UTF-8.
    if any(ord(c) > 127 for c in text):
        try:
            return text.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return text


def _decode_bytes(raw: bytes) -> str:
    raw = raw[:_MAX_TEXT]
    for enc in ("utf-8",):
        try:
            return raw.decode(enc).strip("\x00")
        except UnicodeDecodeError:
            pass
    return raw.decode("latin-1").strip("\x00")


def _decode_user_comment(raw: Any) -> str:
    """Decode an EXIF UserComment, whose first 8 bytes name its character code."""
    if not isinstance(raw, bytes):
        return str(raw)
    prefix, body = raw[:8], raw[8:]
    if prefix.startswith(b"UNICODE"):
        # Byte order is the EXIF block's, which Pillow does not tell us: pick the one
        # whose high bytes are mostly zero for ASCII-range JSON.
        be = body[0::2].count(0) >= body[1::2].count(0)
        try:
            return body.decode("utf-16-be" if be else "utf-16-le").strip("\x00")
        except UnicodeDecodeError:
            return ""
    if prefix.startswith(b"ASCII") or prefix == b"\x00" * 8 or prefix.startswith(b"JIS"):
        return _decode_bytes(body)
    return _decode_bytes(raw)


def _c2pa_store_present(data: bytes, fmt: str) -> bool:
    # A C2PA manifest store is a JUMBF superbox labelled "c2pa": APP11 in JPEG, caBX in
    # PNG, a C2PA chunk in WebP, a uuid box in HEIF. The two byte strings are enough
    # to decide whether calling the (much slower) manifest reader is worthwhile.
    return b"jumb" in data and b"c2pa" in data


def collect_raw_metadata(im: Any, data: bytes, fmt: str) -> RawMetadata:
    """Return the metadata of an opened Pillow image as text; never raise for bad metadata."""
    exif: dict[str, str] = {}
    try:
        ex = im.getexif()
        for tag, key in (
            (_MAKE, "Make"),
            (_MODEL, "Model"),
            (_SOFTWARE, "Software"),
            (_DESCRIPTION, "ImageDescription"),
            (_DATETIME, "DateTime"),
        ):
            if tag in ex and ex[tag] not in (None, b"", ""):
                exif[key] = _as_text(ex[tag]).strip()
        sub = ex.get_ifd(_EXIF_IFD)
        for tag, key in ((_DATETIME_ORIGINAL, "DateTimeOriginal"), (_OFFSET_TIME_ORIGINAL, "OffsetTimeOriginal")):
            if tag in sub and sub[tag] not in (None, b"", ""):
                exif[key] = _as_text(sub[tag]).strip()
        if _USER_COMMENT in sub:
            comment = _decode_user_comment(sub[_USER_COMMENT])
            if comment.strip():
                exif["UserComment"] = comment
    except Exception:  # broken EXIF is common and must not hide the pixels
        pass
    xmp = ""
    text: dict[str, str] = {}
    try:
        info = dict(im.info)
        raw_xmp = info.get("xmp") or info.get("XML:com.adobe.xmp")
        if raw_xmp:
            xmp = _as_text(raw_xmp)[:_MAX_TEXT]
        if fmt == "png":
            for key, value in (getattr(im, "text", None) or {}).items():
                if key == "XML:com.adobe.xmp":
                    xmp = xmp or _as_text(value)[:_MAX_TEXT]
                else:
                    text[str(key)] = _as_text(value)[:_MAX_TEXT]
        for key in ("comment", "Comment"):
            if key in info and isinstance(info[key], (bytes, str)):
                text.setdefault("Comment", _as_text(info[key])[:_MAX_TEXT])
    except Exception:
        pass
    c2pa_info = read_c2pa(data, fmt) if _c2pa_store_present(data, fmt) else None
    return RawMetadata(exif=exif, xmp=xmp, text=text, c2pa=c2pa_info)


# --- C2PA -------------------------------------------------------------------------

_AI_SOURCE_TYPES = ("compositeWithTrainedAlgorithmicMedia", "trainedAlgorithmicMedia")
_MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "heic": "image/heic"}


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            for k, v in cur.items():
                yield k, v
                stack.append(v)
        elif isinstance(cur, list):
            stack.extend(cur)


def read_c2pa(data: bytes, fmt: str) -> dict[str, Any]:
    """Return what the C2PA manifest store of `data` declares; never raise.

    Keys: present (bool), ai_source_types (sorted list), generator (str), trusted
    (bool | None), reader ("c2pa-python" or "bytes"). The signature need not be trusted:
    a manifest that says "made by an AI" is evidence whoever signed it.
    """
    result: dict[str, Any] = {
        "present": True,
        "ai_source_types": [],
        "generator": "",
        "trusted": None,
        "reader": "bytes",
    }
    try:
        import c2pa

        reader = c2pa.Reader(_MIME.get(fmt, ""), io.BytesIO(data))
        try:
            store = json.loads(reader.json())
            state = reader.get_validation_state()
        finally:
            reader.close()
        found = set()
        for key, value in _walk(store):
            if key == "digitalSourceType" and isinstance(value, str):
                for t in _AI_SOURCE_TYPES:
                    if value.rsplit("/", 1)[-1] == t:
                        found.add(t)
        active = store.get("manifests", {}).get(store.get("active_manifest", ""), {})
        gens = active.get("claim_generator_info") or []
        if gens and isinstance(gens[0], dict):
            result["generator"] = str(gens[0].get("name", ""))
        elif active.get("claim_generator"):
            result["generator"] = str(active["claim_generator"])
        result.update(ai_source_types=sorted(found), trusted=str(state).lower() == "trusted", reader="c2pa-python")
        return result
    except Exception:
        pass
    # Fallback when the reader refuses the store (unknown container, damaged claim):
    # CBOR keeps text strings verbatim, so the IPTC source-type URLs are visible in
    # the bytes of the JUMBF boxes.
    found = set()
    for t in _AI_SOURCE_TYPES:
        for m in re.finditer(re.escape(t.encode()), data):
            start = m.start()
            if t == "trainedAlgorithmicMedia" and data[start - 13 : start] == b"compositeWith":
                continue
            found.add(t)
            break
    result["ai_source_types"] = sorted(found)
    return result


# --- AIGC implicit labels (GB 45438-2025) -----------------------------------------

_AIGC_KEYS = (
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    "ReservedCode2",
)
_XMP_AIGC = re.compile(
    r"<(?:[\w.-]+:)?AIGC\b[^>]*>(.*?)</(?:[\w.-]+:)?AIGC\s*>|(?:[\w.-]+:)?AIGC\s*=\s*(\"[^\"]*\"|'[^']*')",
    re.DOTALL,
)


def _json_objects(text: str, *, limit: int = 50) -> Iterator[Any]:
    decoder = json.JSONDecoder()
    pos = 0
    for _ in range(limit):
        i = text.find("{", pos)
        if i < 0:
            return
        try:
            obj, end = decoder.raw_decode(text, i)
        except ValueError:
            pos = i + 1
            continue
        yield obj
        pos = end


def _label_in(obj: Any) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    for key, value in obj.items():
        if key.upper() == "AIGC":
            if isinstance(value, str):
                value = next(iter(_json_objects(value)), None)
            found = _label_in(value)
            if found:
                return found
    present = [k for k in _AIGC_KEYS if k in obj]
    # "Label" plus one more key of the standard's set: specific enough that no
    # ordinary JSON in metadata (ComfyUI workflows, SD parameters) matches it.
    if "Label" in obj and len(present) >= 2:
        return obj
    return None


def find_aigc_label(meta: RawMetadata) -> tuple[dict[str, Any], str] | None:
    """Return (label dict, where it was found) for a GB 45438-2025 implicit label, or None."""
    candidates: list[tuple[str, str]] = []
    for key, value in meta.text.items():
        # A PNG text chunk named AIGC holds the label's JSON itself; any other chunk
        # may embed {"AIGC": {...}} or the bare label object.
        candidates.append((f"PNG text '{key}'", value))
    for m in _XMP_AIGC.finditer(meta.xmp):
        raw = m.group(1) if m.group(1) is not None else m.group(2)[1:-1]
        candidates.append(("XMP AIGC", html.unescape(raw)))
    for key in ("UserComment", "ImageDescription"):
        if key in meta.exif:
            candidates.append((f"EXIF {key}", meta.exif[key]))
    for where, blob in candidates:
        if "{" not in blob:
            continue
        for obj in _json_objects(blob):
            label = _label_in(obj)
            if label:
                return label, where
    return None


# --- Software names -----------------------------------------------------------------

# (pattern, display name, is_generator). Generators score higher than editors: an
# editor is routine (cropping), a generator means the pixels were synthesised.
_SOFTWARE_NAMES = [
    (r"stable[\s_-]?diffusion|automatic1111|\bsdxl\b", "Stable Diffusion", True),
    (r"comfy\s?ui", "ComfyUI", True),
    (r"midjourney", "Midjourney", True),
    (r"dall[\s·.-]?e", "DALL-E", True),
    (r"firefly", "Adobe Firefly", True),
    (r"novelai", "NovelAI", True),
    (r"invoke\s?ai", "InvokeAI", True),
    (r"photoshop", "Adobe Photoshop", False),
    (r"lightroom", "Adobe Lightroom", False),
    (r"\bgimp\b", "GIMP", False),
    (r"meitu|美图|美圖", "Meitu", False),
    (r"醒图|xingtu", "Xingtu", False),
    (r"snapseed", "Snapseed", False),
    (r"picsart", "PicsArt", False),
    (r"facetune", "Facetune", False),
    (r"pixelmator", "Pixelmator", False),
    (r"affinity\s+photo", "Affinity Photo", False),
    (r"paint\.net", "Paint.NET", False),
    (r"\bcanva\b", "Canva", False),
    (r"fotor", "Fotor", False),
    (r"photodirector", "PhotoDirector", False),
    (r"remini", "Remini", False),
]
_SOFTWARE_RE = [(re.compile(p, re.IGNORECASE), name, gen) for p, name, gen in _SOFTWARE_NAMES]
_XMP_TOOL = re.compile(r"(?:CreatorTool|softwareAgent)\s*(?:=\s*[\"']([^\"']*)[\"']|>([^<]*)<)", re.IGNORECASE)


def _software_hits(meta: RawMetadata) -> list[tuple[str, bool, str]]:
    sources: list[tuple[str, str]] = []
    if "Software" in meta.exif:
        sources.append(("EXIF Software", meta.exif["Software"]))
    for m in _XMP_TOOL.finditer(meta.xmp):
        sources.append(("XMP CreatorTool", m.group(1) or m.group(2) or ""))
    for key, value in meta.text.items():
        low = key.lower()
        if low == "parameters" and ("Steps:" in value or "Sampler:" in value or "Negative prompt" in value):
            sources.append(("PNG text 'parameters'", "Stable Diffusion"))
        elif (
            low in ("workflow", "prompt")
            and value.lstrip().startswith("{")
            and ("class_type" in value or "nodes" in value)
        ):
            sources.append((f"PNG text '{key}'", "ComfyUI"))
        elif low in ("software", "description", "comment", "generator", "source", "creation software"):
            sources.append((f"PNG text '{key}'", value[:2000]))
    hits: list[tuple[str, bool, str]] = []
    for where, value in sources:
        for rx, name, gen in _SOFTWARE_RE:
            if rx.search(value) and name not in [h[0] for h in hits]:
                hits.append((name, gen, where))
    return hits


# --- Capture time -------------------------------------------------------------------

# Without OffsetTimeOriginal the capture clock's zone is unknown; any zone is within
# 14 h of UTC, so only a capture more than that before delivery is certainly earlier.
_UNKNOWN_ZONE_SLACK = timedelta(hours=14)


def parse_capture_time(meta: RawMetadata) -> tuple[datetime, bool] | None:
    """Return (capture time, whether its UTC offset is known) from EXIF, or None."""
    raw = meta.exif.get("DateTimeOriginal")
    if not raw:
        return None
    try:
        naive = datetime.strptime(raw.strip()[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = meta.exif.get("OffsetTimeOriginal", "").strip()
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", offset)
    if m:
        delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        tz = timezone(delta if m.group(1) == "+" else -delta)
        return naive.replace(tzinfo=tz), True
    return naive.replace(tzinfo=UTC), False


def provenance_findings(meta: RawMetadata, *, delivered_at: datetime | None = None) -> list[Finding]:
    """Return the metadata findings for one image (may be empty); never raise."""
    findings: list[Finding] = []
    label = find_aigc_label(meta)
    if label:
        data, where = label
        producer = str(data.get("ContentProducer", "") or "")
        value = str(data.get("Label", ""))
        findings.append(
            Finding(
                code="aigc_label",
                score=0.95,
                detail=f"The image carries an AIGC implicit label (Label {value!r}) from producer {producer or 'unknown'!r} in {where}.",
                params={
                    "label": value,
                    "producer": producer,
                    "produce_id": str(data.get("ProduceID", "") or ""),
                    "propagator": str(data.get("ContentPropagator", "") or ""),
                    "location": where,
                },
            )
        )
    if meta.c2pa and meta.c2pa.get("ai_source_types"):
        types = meta.c2pa["ai_source_types"]
        findings.append(
            Finding(
                code="c2pa_ai_generated",
                score=0.95,
                detail=f"A C2PA manifest declares AI generation ({', '.join(types)}); claim generator {meta.c2pa.get('generator') or 'unknown'!r}, signature trusted: {meta.c2pa.get('trusted')}.",
                params={
                    "source_types": list(types),
                    "generator": meta.c2pa.get("generator", ""),
                    "trusted": meta.c2pa.get("trusted"),
                    "reader": meta.c2pa.get("reader"),
                },
            )
        )
    hits = _software_hits(meta)
    if hits:
        generator = any(gen for _, gen, _ in hits)
        names = [name for name, _, _ in hits]
        findings.append(
            Finding(
                code="editing_software",
                score=0.7 if generator else 0.4,
                detail=f"Metadata names {'generating' if generator else 'editing'} software: {', '.join(names)} ({hits[0][2]}).",
                params={"software": names, "generator": generator, "location": hits[0][2]},
            )
        )
    has_camera = bool(meta.exif.get("Make") or meta.exif.get("Model") or meta.exif.get("DateTimeOriginal"))
    if not has_camera:
        findings.append(
            Finding(
                code="no_camera_metadata",
                score=0.1,
                detail="The image has no camera make, model or capture time (normal for screenshots and messaging apps).",
                params={},
            )
        )
    captured = parse_capture_time(meta)
    if captured and delivered_at is not None:
        when, zone_known = captured
        delivered = delivered_at if delivered_at.tzinfo else delivered_at.replace(tzinfo=UTC)
        margin = timedelta(0) if zone_known else _UNKNOWN_ZONE_SLACK
        if when + margin < delivered:
            hours = (delivered - when).total_seconds() / 3600
            findings.append(
                Finding(
                    code="captured_before_delivery",
                    score=0.6,
                    detail=f"The photo was taken at {when.isoformat()}, {hours:.1f} hours before the item was delivered ({delivered.isoformat()}).",
                    params={
                        "captured_at": when.isoformat(),
                        "delivered_at": delivered.isoformat(),
                        "hours_before": round(hours, 1),
                        "zone_known": zone_known,
                    },
                )
            )
    return findings
