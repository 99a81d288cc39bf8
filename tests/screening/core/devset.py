"""The screening development set, generated from scikit-image's bundled photos with fixed seeds.

References are catalogue photos. Forgeries paint cracks/stains/tears into a reference
and then recompress/resize/crop/rotate/colour-jitter it (evasive ones add mild
perspective, noise, blur or a screenshot frame). Reuses are the same without any
paint. Genuine photos are unrelated photos, the other view of a stereo pair, and
re-photographs: the reference printed, placed in a new scene and photographed under
another perspective, light, white balance, lens, focus and sensor noise.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from bench.synthetic import jpeg, paint_edits, photo, rephotograph

REFERENCE_NAMES = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "motorcycle")
UNRELATED_NAMES = (
    "camera",
    "brick",
    "grass",
    "gravel",
    "coins",
    "moon",
    "page",
    "clock",
    "colorwheel",
    "hubble_deep_field",
    "retina",
    "text",
)
FORGERIES_PER_REFERENCE = 12
REUSES_PER_REFERENCE = 3
REPHOTOS_PER_REFERENCE = 8


@dataclass
class Sample:
    name: str
    kind: str  # forgery | reuse | rephoto | unrelated | stereo
    data: bytes
    reference: int | None  # index into references of the true source, if any
    candidates: tuple[int, ...]  # references it is screened against
    edit_boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # evidence pixel coords
    params: dict = field(default_factory=dict)


def png(img: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG", **kw)
    return buf.getvalue()


def references() -> list[tuple[str, np.ndarray, bytes]]:
    out = []
    for name in REFERENCE_NAMES:
        img = photo(name)
        out.append((name, img, jpeg(img, 95)))
    return out


# --- painted edits ----------------------------------------------------------------


def _recompress(img: np.ndarray, quality: int) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg(img, quality))).convert("RGB"))


def derive(
    img: np.ndarray, mask: np.ndarray, rng: np.random.Generator, *, evasive: str | None
) -> tuple[bytes, np.ndarray, dict]:
    """Return (JPEG bytes, transformed mask, parameters) of a derived copy of `img`."""
    h, w = img.shape[:2]
    params: dict = {"evasive": evasive}
    img = _recompress(img, int(rng.integers(75, 95)))  # the AI tool's own export
    scale = float(rng.uniform(0.6, 1.4))
    angle = float(rng.uniform(-6, 6))
    crop = rng.uniform(0, 0.12, 4)  # left, top, right, bottom fractions
    params.update(scale=round(scale, 2), angle=round(angle, 1), crop=[round(float(c), 2) for c in crop])
    # Source rectangle after crop, mapped to an output of the scaled crop size.
    x0, y0 = crop[0] * w, crop[1] * h
    x1, y1 = w * (1 - crop[2]), h * (1 - crop[3])
    ow, oh = int((x1 - x0) * scale), int((y1 - y0) * scale)
    src = np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    dst = np.float32([[0, 0], [ow, 0], [ow, oh], [0, oh]])
    c = np.array([ow / 2, oh / 2])
    rot = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), angle, 1.0)
    dst = np.float32([rot @ np.array([x, y, 1.0]) for x, y in dst])
    if evasive == "perspective":
        dst = dst + rng.uniform(-0.04, 0.04, (4, 2)).astype(np.float32) * np.float32([ow, oh])
    H = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(img, H, (ow, oh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    m = cv2.warpPerspective(mask.astype(np.uint8) * 255, H, (ow, oh), flags=cv2.INTER_NEAREST)
    out = warped.astype(np.float32) / 255.0
    # Colour jitter: brightness, contrast, saturation, gamma, per-channel gain.
    out = out ** rng.uniform(0.85, 1.15)
    out = (out - 0.5) * rng.uniform(0.85, 1.15) + 0.5 + rng.uniform(-0.08, 0.08)
    grey = out.mean(axis=2, keepdims=True)
    out = grey + (out - grey) * rng.uniform(0.8, 1.2)
    out = out * rng.uniform(0.93, 1.07, 3)
    out = np.clip(out * 255, 0, 255)
    if evasive == "noise":
        out = out + rng.normal(0, rng.uniform(3, 7), out.shape)
    if evasive == "blur":
        out = cv2.GaussianBlur(out.astype(np.float32), (0, 0), rng.uniform(0.8, 1.6))
    out = np.clip(out, 0, 255).astype(np.uint8)
    if evasive == "frame":
        out, m = screenshot_frame(out, m, rng)
    quality = int(rng.integers(60, 92))
    params["quality"] = quality
    return jpeg(out, quality), m, params


def screenshot_frame(img: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Put the image inside a phone screenshot: status bar, app bars, margins, text lines."""
    h, w = img.shape[:2]
    top, bottom = int(h * rng.uniform(0.12, 0.2)), int(h * rng.uniform(0.15, 0.25))
    side = int(w * rng.uniform(0.0, 0.06))
    dark = bool(rng.integers(0, 2))
    bg = 18 if dark else 246
    canvas = np.full((h + top + bottom, w + 2 * side, 3), bg, np.uint8)
    canvas[top : top + h, side : side + w] = img
    fg = 230 if dark else 30
    cv2.rectangle(canvas, (0, 0), (canvas.shape[1], int(top * 0.3)), (bg - 10 if not dark else 40,) * 3, -1)
    cv2.putText(canvas, "12:41", (8, int(top * 0.25)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (fg,) * 3, 1, cv2.LINE_AA)
    cv2.putText(
        canvas, "Order #2026113001", (10, int(top * 0.8)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (fg,) * 3, 1, cv2.LINE_AA
    )
    y = top + h + 20
    for i in range(3):
        cv2.putText(
            canvas,
            "Refund only - item damaged" if i == 0 else "Reply  Share  Report",
            (10, y + 22 * i),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (fg,) * 3,
            1,
            cv2.LINE_AA,
        )
    m = np.zeros(canvas.shape[:2], np.uint8)
    m[top : top + h, side : side + w] = mask
    return canvas, m


# --- re-photographs ------------------------------------------------------------------


# --- the whole set -----------------------------------------------------------------------


DEFAULT_SEED = 20261130


def build(seed: int = DEFAULT_SEED) -> tuple[list[tuple[str, np.ndarray, bytes]], list[Sample]]:
    """Return (references, samples); deterministic for a given seed."""
    refs = references()
    n = len(refs)
    rng = np.random.default_rng(seed)
    samples: list[Sample] = []
    evasions = [None, None, "perspective", "noise", "blur", "frame"]

    def candidates(true_index: int | None) -> tuple[int, ...]:
        others = [i for i in range(n) if i != true_index]
        picked = list(rng.choice(others, 2, replace=False))
        if true_index is not None:
            picked.insert(int(rng.integers(0, 3)), true_index)
        else:
            picked.append(int(rng.choice([i for i in others if i not in picked])))
        return tuple(int(i) for i in picked)

    for ri, (name, img, _) in enumerate(refs):
        for j in range(FORGERIES_PER_REFERENCE):
            edited, mask = paint_edits(img, rng)
            evasive = evasions[j % len(evasions)]
            data, m, params = derive(edited, mask, rng, evasive=evasive)
            boxes = _boxes(m)
            samples.append(Sample(f"forgery-{name}-{j}", "forgery", data, ri, candidates(ri), boxes, params))
        for j in range(REUSES_PER_REFERENCE):
            data, _, params = derive(
                img, np.zeros(img.shape[:2], np.uint8), rng, evasive=evasions[(j * 2 + 1) % len(evasions)]
            )
            samples.append(Sample(f"reuse-{name}-{j}", "reuse", data, ri, candidates(ri), [], params))
    backgrounds = [photo(b) for b in ("brick", "grass", "gravel", "coffee", "chelsea", "camera")]
    for ri, (name, img, _) in enumerate(refs):
        for j in range(REPHOTOS_PER_REFERENCE):
            bg = backgrounds[(ri + j) % len(backgrounds)]
            data, params = rephotograph(img, bg, rng)
            samples.append(Sample(f"rephoto-{name}-{j}", "rephoto", data, None, candidates(ri), [], params))
    for name in UNRELATED_NAMES:
        samples.append(Sample(f"unrelated-{name}", "unrelated", jpeg(photo(name), 90), None, candidates(None)))
    stereo_ref = REFERENCE_NAMES.index("motorcycle")
    samples.append(
        Sample("stereo-motorcycle-right", "stereo", jpeg(photo("motorcycle_right"), 90), None, candidates(stereo_ref))
    )
    return refs, samples


def _boxes(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Return one box per painted edit (components closer than a few pixels merged)."""
    merged = cv2.dilate((mask > 0).astype(np.uint8), np.ones((9, 9), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(merged)
    boxes = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area >= 30:
            boxes.append((x + 4, y + 4, max(1, w - 8), max(1, h - 8)))
    return boxes


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


# --- labelled files -------------------------------------------------------------------

AIGC_VALUE = {
    "Label": "1",
    "ContentProducer": "001191330000MA2KXXXXXX0001",
    "ProduceID": "gen-2026-0001",
    "ReservedCode1": "",
    "ContentPropagator": "",
    "PropagateID": "",
    "ReservedCode2": "",
}


def xmp_packet(inner: str) -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" {inner}</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def exif_bytes(
    *,
    make: str | None = None,
    model: str | None = None,
    software: str | bytes | None = None,
    description: str | None = None,
    user_comment: bytes | None = None,
    taken: str | None = None,
    offset: str | None = None,
) -> bytes:
    ex = Image.Exif()
    if make:
        ex[0x010F] = make
    if model:
        ex[0x0110] = model
    if software:
        ex[0x0131] = software
    if description:
        ex[0x010E] = description
    sub: dict[int, object] = {}
    if user_comment is not None:
        sub[0x9286] = user_comment
    if taken:
        sub[0x9003] = taken
    if offset:
        sub[0x9011] = offset
    if sub:
        ex[0x8769] = sub  # Pillow writes a sub-IFD given as a dict
    return ex.tobytes()


def aigc_json() -> str:
    return json.dumps(AIGC_VALUE, ensure_ascii=False)
