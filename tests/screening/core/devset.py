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
import skimage.data as skd
from PIL import Image

REFERENCE_NAMES = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "motorcycle")
UNRELATED_NAMES = ("camera", "brick", "grass", "gravel", "coins", "moon", "page", "clock", "colorwheel", "hubble_deep_field", "retina", "text")
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


def _photo(name: str) -> np.ndarray:
    if name == "motorcycle":
        img = skd.stereo_motorcycle()[0]
    elif name == "motorcycle_right":
        img = skd.stereo_motorcycle()[1]
    else:
        img = getattr(skd, name)()
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=2)
    if img.shape[2] == 4:
        img = img[:, :, :3]
    h, w = img.shape[:2]
    if max(h, w) > 800:
        k = 800 / max(h, w)
        img = cv2.resize(img, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img)


def jpeg(img: np.ndarray, quality: int = 92, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality, **kw)
    return buf.getvalue()


def png(img: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG", **kw)
    return buf.getvalue()


def references() -> list[tuple[str, np.ndarray, bytes]]:
    out = []
    for name in REFERENCE_NAMES:
        img = _photo(name)
        out.append((name, img, jpeg(img, 95)))
    return out


# --- painted edits ----------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    small = rng.normal(0, 1, (max(2, int(shape[0] / scale)), max(2, int(shape[1] / scale)))).astype(np.float32)
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def paint_edits(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return (edited image, mask of the painted pixels): cracks, stains or tears."""
    h, w = img.shape[:2]
    out = img.astype(np.float32)
    mask = np.zeros((h, w), np.uint8)
    m = min(h, w)
    n = int(rng.integers(1, 3))
    kinds = rng.choice(["crack", "stain", "tear"], size=n)
    for kind in kinds:
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        layer = np.zeros((h, w), np.uint8)
        if kind == "crack":
            pts = [(cx, cy)]
            angle = rng.uniform(0, 2 * np.pi)
            length = rng.uniform(0.25, 0.4) * m
            steps = 12
            for _ in range(steps):
                angle += rng.normal(0, 0.5)
                x, y = pts[-1]
                pts.append((np.clip(x + np.cos(angle) * length / steps, 2, w - 3), np.clip(y + np.sin(angle) * length / steps, 2, h - 3)))
            poly = np.array(pts, np.int32).reshape(-1, 1, 2)
            thickness = int(rng.integers(3, 6))
            cv2.polylines(layer, [poly], False, 255, thickness, cv2.LINE_AA)
            for _ in range(2):  # side branches
                i = int(rng.integers(2, steps))
                a = angle + rng.normal(0, 1.2)
                x, y = pts[i]
                end = (int(np.clip(x + np.cos(a) * length * 0.3, 0, w - 1)), int(np.clip(y + np.sin(a) * length * 0.3, 0, h - 1)))
                cv2.line(layer, (int(x), int(y)), end, 255, max(2, thickness - 2), cv2.LINE_AA)
            alpha = layer.astype(np.float32)[:, :, None] / 255.0
            colour = np.array([25, 22, 20], np.float32)
            out = out * (1 - 0.9 * alpha) + colour * 0.9 * alpha
        elif kind == "stain":
            r = rng.uniform(0.07, 0.13) * m
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            field_ = np.hypot((xx - cx) / r, (yy - cy) / (r * rng.uniform(0.6, 1.2))) + 0.35 * _smooth_noise(rng, (h, w), r / 2)
            alpha = np.clip((1.1 - field_) * 3, 0, 1)
            layer = (alpha > 0.1).astype(np.uint8) * 255
            colour = np.array([rng.uniform(90, 140), rng.uniform(55, 85), rng.uniform(20, 45)], np.float32)
            a = (alpha * rng.uniform(0.55, 0.8))[:, :, None]
            out = out * (1 - a) + colour * a
        else:  # tear: a torn-off patch showing paper, with a shadowed edge
            r = rng.uniform(0.08, 0.14) * m
            k = 9
            angles = np.sort(rng.uniform(0, 2 * np.pi, k))
            radii = r * rng.uniform(0.6, 1.3, k)
            poly = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1).astype(np.int32)
            cv2.fillPoly(layer, [poly.reshape(-1, 1, 2)], 255)
            alpha = cv2.GaussianBlur(layer.astype(np.float32) / 255.0, (0, 0), 1.0)[:, :, None]
            paper = np.array([235, 230, 218], np.float32)
            out = out * (1 - alpha) + paper * alpha
            edge = cv2.polylines(np.zeros((h, w), np.uint8), [poly.reshape(-1, 1, 2)], True, 255, 2)
            e = edge.astype(np.float32)[:, :, None] / 255.0 * 0.7
            out = out * (1 - e) + 40 * e
            layer = np.maximum(layer, edge)
        mask = np.maximum(mask, layer)
    return np.clip(out, 0, 255).astype(np.uint8), mask


# --- geometric/photometric transforms of a derived copy ------------------------------


def _recompress(img: np.ndarray, quality: int) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg(img, quality))).convert("RGB"))


def derive(img: np.ndarray, mask: np.ndarray, rng: np.random.Generator, *, evasive: str | None) -> tuple[bytes, np.ndarray, dict]:
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
    m = cv2.warpPerspective(mask, H, (ow, oh), flags=cv2.INTER_NEAREST)
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
    cv2.putText(canvas, "Order #2026113001", (10, int(top * 0.8)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (fg,) * 3, 1, cv2.LINE_AA)
    y = top + h + 20
    for i in range(3):
        cv2.putText(canvas, "Refund only - item damaged" if i == 0 else "Reply  Share  Report", (10, y + 22 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (fg,) * 3, 1, cv2.LINE_AA)
    m = np.zeros(canvas.shape[:2], np.uint8)
    m[top : top + h, side : side + w] = mask
    return canvas, m


# --- re-photographs ------------------------------------------------------------------


def rephotograph(img: np.ndarray, background: np.ndarray, rng: np.random.Generator) -> tuple[bytes, dict]:
    """Return a JPEG of `img` printed, placed in a scene and photographed anew."""
    h, w = img.shape[:2]
    # Print: the paper's gamut is narrower, inks cross-talk, paper has texture.
    p = img.astype(np.float32) / 255.0
    mix = np.eye(3, dtype=np.float32) * 0.85 + 0.05
    p = p @ mix.T
    p = 0.06 + 0.86 * p
    p = p * (1 + 0.04 * _smooth_noise(rng, (h, w), 3.0))[:, :, None]
    printed = np.clip(p * 255, 0, 255).astype(np.float32)
    ow, oh = (800, 600) if w >= h else (600, 800)
    scene = cv2.resize(background, (ow, oh)).astype(np.float32) * rng.uniform(0.5, 0.9)
    fill = rng.uniform(0.55, 0.9)
    k = min(ow * fill / w, oh * fill / h)
    cw, ch = w * k, h * k
    x0, y0 = rng.uniform(0, ow - cw), rng.uniform(0, oh - ch)
    dst = np.float32([[x0, y0], [x0 + cw, y0], [x0 + cw, y0 + ch], [x0, y0 + ch]])
    jitter = float(rng.uniform(0.04, 0.1))
    dst = dst + rng.uniform(-jitter, jitter, (4, 2)).astype(np.float32) * np.float32([cw, ch])
    H = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), dst)
    warped = cv2.warpPerspective(printed, H, (ow, oh), flags=cv2.INTER_LINEAR)
    cover = cv2.warpPerspective(np.ones((h, w), np.float32), H, (ow, oh), flags=cv2.INTER_LINEAR)[:, :, None]
    photo = scene * (1 - cover) + warped * cover
    # Light: a gradient across the scene, vignetting, and a soft glare on the paper.
    yy, xx = np.mgrid[0:oh, 0:ow].astype(np.float32)
    gx, gy = rng.uniform(-0.3, 0.3, 2)
    light = 1 + gx * (xx / ow - 0.5) + gy * (yy / oh - 0.5)
    r2 = ((xx - ow / 2) / ow) ** 2 + ((yy - oh / 2) / oh) ** 2
    light = light * (1 - rng.uniform(0.2, 0.5) * r2)
    gcx, gcy = rng.uniform(0.2, 0.8) * ow, rng.uniform(0.2, 0.8) * oh
    glare = rng.uniform(0.0, 0.25) * np.exp(-((xx - gcx) ** 2 + (yy - gcy) ** 2) / (2 * (0.15 * ow) ** 2))
    photo = photo * light[:, :, None] * rng.uniform(0.8, 1.2) + 255 * glare[:, :, None] * cover
    # White balance of another light source.
    photo = photo * rng.uniform(0.85, 1.15, 3).astype(np.float32)
    # Lens: barrel distortion about the optical centre.
    k1 = float(rng.uniform(0.02, 0.07))
    nx, ny = (xx - ow / 2) / (ow / 2), (yy - oh / 2) / (ow / 2)
    rr = nx * nx + ny * ny
    mapx = (nx * (1 + k1 * rr)) * (ow / 2) + ow / 2
    mapy = (ny * (1 + k1 * rr)) * (ow / 2) + oh / 2
    photo = cv2.remap(photo, mapx.astype(np.float32), mapy.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    # Focus and sensor: defocus, shot + read noise, then the phone's JPEG.
    photo = cv2.GaussianBlur(photo, (0, 0), rng.uniform(0.6, 1.6))
    photo = photo + rng.normal(0, 1, photo.shape) * np.sqrt(np.clip(photo, 0, 255) * rng.uniform(0.02, 0.08) + 2)
    out = np.clip(photo, 0, 255).astype(np.uint8)
    return jpeg(out, int(rng.integers(80, 94))), {"fill": round(float(fill), 2), "k1": round(k1, 3), "jitter": round(jitter, 3)}


# --- the whole set -----------------------------------------------------------------------


def build(seed: int = 20261130) -> tuple[list[tuple[str, np.ndarray, bytes]], list[Sample]]:
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
            data, _, params = derive(img, np.zeros(img.shape[:2], np.uint8), rng, evasive=evasions[(j * 2 + 1) % len(evasions)])
            samples.append(Sample(f"reuse-{name}-{j}", "reuse", data, ri, candidates(ri), [], params))
    backgrounds = [_photo(b) for b in ("brick", "grass", "gravel", "coffee", "chelsea", "camera")]
    for ri, (name, img, _) in enumerate(refs):
        for j in range(REPHOTOS_PER_REFERENCE):
            bg = backgrounds[(ri + j) % len(backgrounds)]
            data, params = rephotograph(img, bg, rng)
            samples.append(Sample(f"rephoto-{name}-{j}", "rephoto", data, None, candidates(ri), [], params))
    for name in UNRELATED_NAMES:
        samples.append(Sample(f"unrelated-{name}", "unrelated", jpeg(_photo(name), 90), None, candidates(None)))
    stereo_ref = REFERENCE_NAMES.index("motorcycle")
    samples.append(Sample("stereo-motorcycle-right", "stereo", jpeg(_photo("motorcycle_right"), 90), None, candidates(stereo_ref)))
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

AIGC_VALUE = {"Label": "1", "ContentProducer": "001191330000MA2KXXXXXX0001", "ProduceID": "gen-2026-0001",
              "ReservedCode1": "", "ContentPropagator": "", "PropagateID": "", "ReservedCode2": ""}


def xmp_packet(inner: str) -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" {inner}</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode("utf-8")


def exif_bytes(*, make: str | None = None, model: str | None = None, software: str | None = None,
               description: str | None = None, user_comment: bytes | None = None,
               taken: str | None = None, offset: str | None = None) -> bytes:
    ex = Image.Exif()
    if make:
        ex[0x010F] = make
    if model:
        ex[0x0110] = model
    if software:
        ex[0x0131] = software
    if description:
        ex[0x010E] = description
    sub = ex.get_ifd(0x8769)
    if user_comment is not None:
        sub[0x9286] = user_comment
    if taken:
        sub[0x9003] = taken
    if offset:
        sub[0x9011] = offset
    return ex.tobytes()


def aigc_json() -> str:
    return json.dumps(AIGC_VALUE, ensure_ascii=False)
