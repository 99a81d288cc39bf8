"""Provenance metadata: AIGC implicit labels, C2PA manifests, software, capture time.

Everything here reads metadata the decoder already collected; nothing decodes pixels.
"""

from __future__ import annotations

import html
import io
import json
import re
import struct
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
    # Structural damage found in the metadata (English sentences); a writer that breaks
    # the format's own rules is not a camera, and a parser it fools stays silent.
    problems: tuple[str, ...] = ()


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


# --- EXIF structure ---------------------------------------------------------------

# Byte sizes of the TIFF field types 1-13 (BYTE, ASCII, SHORT, LONG, RATIONAL, SBYTE,
# UNDEFINED, SSHORT, SLONG, SRATIONAL, FLOAT, DOUBLE, IFD).
_TIFF_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
# Tags whose value is the offset of another IFD: Exif, GPS, Interoperability.
_SUB_IFD_TAGS = (0x8769, 0x8825, 0xA005)
# A real EXIF block has a handful of IFDs; more is a loop or a bomb.
_MAX_IFDS = 16
_MAX_PROBLEMS = 3


def exif_problems(block: bytes) -> list[str]:
    """Return what breaks the TIFF structure of an EXIF block (empty when sound).

    Checked: the byte-order header, that every IFD (the chain from IFD0, and the Exif,
    GPS and Interoperability IFDs) lies inside the block with room for the entries its
    count claims, and that every out-of-line value lies inside the block. Pillow reads
    such blocks leniently and returns what it could, so damage would otherwise pass
    unnoticed.
    """
    if block.startswith(b"Exif\x00\x00"):
        block = block[6:]
    size = len(block)
    if size < 8 or block[:4] not in (b"II*\x00", b"MM\x00*"):
        return ["the EXIF block has no valid TIFF header"]
    order = "<" if block[:2] == b"II" else ">"
    problems: list[str] = []
    pending = [("IFD0", struct.unpack(order + "I", block[4:8])[0])]
    seen: set[int] = set()
    while pending and len(problems) < _MAX_PROBLEMS:
        name, offset = pending.pop(0)
        if offset == 0 and name.startswith("IFD") and name != "IFD0":
            continue  # the end of the IFD chain
        if offset in seen:
            problems.append(f"the EXIF {name} points back to an IFD already read (a loop)")
            continue
        seen.add(offset)
        if len(seen) > _MAX_IFDS:
            problems.append(f"the EXIF block chains more than {_MAX_IFDS} IFDs")
            break
        if offset + 2 > size:
            problems.append(f"the EXIF {name} starts at byte {offset}, outside the {size}-byte block")
            continue
        count = struct.unpack(order + "H", block[offset : offset + 2])[0]
        needed = 2 + 12 * count + 4
        # The trailing 4-byte link to the next IFD is left out by some sloppy writers;
        # the entries themselves must fit.
        if offset + 2 + 12 * count > size:
            problems.append(
                f"the EXIF {name} claims {count} entries ({needed} bytes) but only {size - offset} bytes remain"
            )
            continue
        for i in range(count):
            entry = offset + 2 + 12 * i
            tag, kind, n = struct.unpack(order + "HHI", block[entry : entry + 8])
            width = _TIFF_TYPE_SIZE.get(kind)
            if width is None:
                continue  # unknown types are skipped by readers, as TIFF says
            if width * n > 4:
                value_at = struct.unpack(order + "I", block[entry + 8 : entry + 12])[0]
                if value_at + width * n > size:
                    problems.append(
                        f"the EXIF tag 0x{tag:04X} in {name} claims {width * n} bytes at byte {value_at}, "
                        f"past the end of the {size}-byte block"
                    )
                    break
            elif tag in _SUB_IFD_TAGS and kind in (4, 13) and n == 1:
                sub = struct.unpack(order + "I", block[entry + 8 : entry + 12])[0]
                pending.append(({0x8769: "Exif IFD", 0x8825: "GPS IFD", 0xA005: "Interoperability IFD"}[tag], sub))
        if name.startswith("IFD") and offset + needed <= size:
            nxt = struct.unpack(order + "I", block[offset + 2 + 12 * count : offset + needed])[0]
            if name == "IFD0":
                pending.append(("IFD1", nxt))
            elif nxt:
                pending.append((f"IFD{int(name[3:]) + 1}", nxt))
    return problems[:_MAX_PROBLEMS]


def collect_raw_metadata(im: Any, data: bytes, fmt: str) -> RawMetadata:
    """Return the metadata of an opened Pillow image as text; never raise for bad metadata."""
    exif: dict[str, str] = {}
    problems: list[str] = []
    raw_exif = im.info.get("exif") if isinstance(getattr(im, "info", None), dict) else None
    if isinstance(raw_exif, bytes) and raw_exif:
        problems.extend(exif_problems(raw_exif))
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
    except Exception as exc:  # broken EXIF must not hide the pixels, nor go unreported
        if not problems:
            problems.append(f"the EXIF block cannot be parsed ({type(exc).__name__})")
    xmp = ""
    text: dict[str, str] = {}
    try:
        info = dict(im.info)
        raw_xmp = info.get("xmp") or info.get("XML:com.adobe.xmp")
        if raw_xmp:
            if len(raw_xmp) > _MAX_TEXT:
                problems.append(f"the XMP packet has {len(raw_xmp)} bytes, more than any camera writes")
            xmp = _as_text(raw_xmp)[:_MAX_TEXT]
        if fmt == "png":
            for key, value in (getattr(im, "text", None) or {}).items():
                if len(value) > _MAX_TEXT:
                    problems.append(f"the PNG text chunk {str(key)[:40]!r} has {len(value)} characters")
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
    return RawMetadata(exif=exif, xmp=xmp, text=text, c2pa=c2pa_info, problems=tuple(problems[:_MAX_PROBLEMS]))


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


def _is_sd_parameters(value: str) -> bool:
    """Tell A1111's generation-parameters text ("<prompt>\\nNegative prompt: ...\\nSteps: 20, Sampler: ...").

    In a field shared with other writers it takes two of its markers, or the negative prompt.
    """
    return ("Steps:" in value and ("Sampler:" in value or "CFG scale:" in value or "Seed:" in value)) or (
        "Negative prompt:" in value
    )


def _is_comfyui_graph(value: str) -> bool:
    return value.lstrip().startswith("{") and ("class_type" in value or "nodes" in value)


def _software_hits(meta: RawMetadata) -> list[tuple[str, bool, str]]:
    sources: list[tuple[str, str]] = []
    if "Software" in meta.exif:
        sources.append(("EXIF Software", meta.exif["Software"]))
    for m in _XMP_TOOL.finditer(meta.xmp):
        sources.append(("XMP CreatorTool", m.group(1) or m.group(2) or ""))
    for key, value in meta.text.items():
        low = key.lower()
        # Under its own key the text needs only one of its markers.
        if low == "parameters" and ("Steps:" in value or "Sampler:" in value or "Negative prompt" in value):
            sources.append(("PNG text 'parameters'", "Stable Diffusion"))
        elif low in ("workflow", "prompt") and _is_comfyui_graph(value):
            sources.append((f"PNG text '{key}'", "ComfyUI"))
        elif low in ("software", "description", "comment", "generator", "source", "creation software"):
            sources.append((f"PNG text '{key}'", value[:2000]))
    # A1111 and its forks write the same "parameters" text into a JPEG's or WebP's EXIF
    # UserComment (ASCII or UNICODE encoded); other tools put names or graphs there.
    for key in ("UserComment", "ImageDescription"):
        value = meta.exif.get(key, "")
        if not value:
            continue
        if _is_sd_parameters(value):
            sources.append((f"EXIF {key}", "Stable Diffusion"))
        elif _is_comfyui_graph(value):
            sources.append((f"EXIF {key}", "ComfyUI"))
        else:
            sources.append((f"EXIF {key}", value[:2000]))
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
    if meta.problems:
        findings.append(
            Finding(
                code="malformed_metadata",
                score=0.6,
                detail=f"The metadata is malformed: {'; '.join(meta.problems)}.",
                params={"problems": list(meta.problems)},
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
