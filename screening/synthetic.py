"""Synthetic evidence made from scikit-image's bundled photographs: the painted edits of a
forger and the re-photograph of a genuine buyer. The demo data and the screening
development set both use it; it imports nothing from Django.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
import skimage.data as skd
from PIL import Image

__all__ = ["jpeg", "paint_edits", "photo", "rephotograph"]


def photo(name: str) -> np.ndarray:
    """Return a bundled photograph as RGB uint8, its long side at most 800 px."""
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
    """Return the image as JPEG bytes."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality, **kw)
    return buf.getvalue()


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
                pts.append(
                    (
                        np.clip(x + np.cos(angle) * length / steps, 2, w - 3),
                        np.clip(y + np.sin(angle) * length / steps, 2, h - 3),
                    )
                )
            poly = np.array(pts, np.int32).reshape(-1, 1, 2)
            thickness = int(rng.integers(3, 6))
            cv2.polylines(layer, [poly], False, 255, thickness, cv2.LINE_AA)
            for _ in range(2):  # side branches
                i = int(rng.integers(2, steps))
                a = angle + rng.normal(0, 1.2)
                x, y = pts[i]
                end = (
                    int(np.clip(x + np.cos(a) * length * 0.3, 0, w - 1)),
                    int(np.clip(y + np.sin(a) * length * 0.3, 0, h - 1)),
                )
                cv2.line(layer, (int(x), int(y)), end, 255, max(2, thickness - 2), cv2.LINE_AA)
            alpha = layer.astype(np.float32)[:, :, None] / 255.0
            colour = np.array([25, 22, 20], np.float32)
            out = out * (1 - 0.9 * alpha) + colour * 0.9 * alpha
        elif kind == "stain":
            r = rng.uniform(0.07, 0.13) * m
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            field_ = np.hypot((xx - cx) / r, (yy - cy) / (r * rng.uniform(0.6, 1.2))) + 0.35 * _smooth_noise(
                rng, (h, w), r / 2
            )
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
    edited = np.clip(out, 0, 255).astype(np.uint8)
    # The painted region is what the paint visibly changed: a dark crack drawn across a
    # black helmet changes nothing a detector (or a reviewer) could see.
    changed = np.abs(edited.astype(np.int16) - img.astype(np.int16)).mean(axis=2) > 24
    return edited, (mask > 0) & changed


# --- geometric/photometric transforms of a derived copy ------------------------------


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
    photo = cv2.remap(
        photo, mapx.astype(np.float32), mapy.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    # Focus and sensor: defocus, shot + read noise, then the phone's JPEG.
    photo = cv2.GaussianBlur(photo, (0, 0), rng.uniform(0.6, 1.6))
    photo = photo + rng.normal(0, 1, photo.shape) * np.sqrt(np.clip(photo, 0, 255) * rng.uniform(0.02, 0.08) + 2)
    out = np.clip(photo, 0, 255).astype(np.uint8)
    return jpeg(out, int(rng.integers(80, 94))), {
        "fill": round(float(fill), 2),
        "k1": round(k1, 3),
        "jitter": round(jitter, 3),
    }
