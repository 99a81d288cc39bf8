"""Synthetic evidence made from scikit-image's bundled photographs: the painted edits of a
forger and the re-photograph of a genuine buyer (source 1, the screening development set),
and the product-photo simulation (source 2, bench/accuracy.py). Evaluation material only:
the production apps never import it; it imports nothing from Django.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
import skimage.data as skd
from PIL import Image

__all__ = [
    "jpeg",
    "paint_damage",
    "paint_edits",
    "phone_camera",
    "photo",
    "flat_product_photo",
    "product_photo",
    "rephotograph",
    "screen_photo",
]


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


# --- a second, independent simulation (the evaluation set of bench/accuracy.py) --------------
#
# Written apart from the development set above and never used to tune it: scenes with
# backgrounds, clutter and occlusion; products that bend beyond one homography and are
# shaded by their own relief; a phone camera with lens distortion, vignetting, white
# balance, a Bayer sensor with shot and read noise, demosaicing, sharpening and JPEG.


def _to_linear(srgb: np.ndarray) -> np.ndarray:
    return np.power(np.clip(srgb, 0.0, 255.0) / 255.0, 2.2).astype(np.float32)


def _to_srgb(linear: np.ndarray) -> np.ndarray:
    return (np.power(np.clip(linear, 0.0, 1.0), 1 / 2.2) * 255.0).astype(np.float32)


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Return a smooth random field in about [-1, 1] varying over `cells` cells on the long side."""
    h, w = shape
    gh, gw = max(2, round(cells * h / max(h, w))) + 1, max(2, round(cells * w / max(h, w))) + 1
    grid = rng.normal(0, 1, (gh, gw)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC) / 1.5


def phone_camera(
    scene: np.ndarray,
    rng: np.random.Generator,
    *,
    quality: tuple[int, int] = (72, 95),
    mask: np.ndarray | None = None,
    k1: float | None = None,
) -> tuple[bytes, dict, np.ndarray | None]:
    """Return (JPEG, parameters, `mask` moved as the lens moves the scene) of a phone photo of `scene`.

    `scene` is float32 sRGB 0..255; `mask`, if given, marks pixels of the scene; `k1`,
    if given, fixes the lens's radial distortion (> 0: barrel) instead of drawing it.
    Lens (radial distortion, vignetting), exposure and white balance in linear light, an
    RGGB Bayer sensor with shot and read noise, demosaicing, the tone curve, unsharp
    masking, then JPEG.
    """
    h, w = scene.shape[:2]
    params: dict = {}
    # Lens: radial distortion about a slightly decentred optical axis.
    drawn = float(rng.uniform(-0.06, 0.1))  # drawn even when fixed: the same seed, the same camera
    k1 = drawn if k1 is None else float(k1)
    k2 = float(rng.uniform(-0.02, 0.02))
    cx, cy = w / 2 + rng.uniform(-0.02, 0.02) * w, h / 2 + rng.uniform(-0.02, 0.02) * h
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    nx, ny = (xx - cx) / (w / 2), (yy - cy) / (w / 2)
    r2 = nx * nx + ny * ny
    factor = 1 + k1 * r2 + k2 * r2 * r2
    # Barrel distortion samples beyond the frame at the corners: zoom in as phones do.
    factor = factor / max(1.0, float(factor.max()))
    lin = _to_linear(scene)
    mapx, mapy = nx * factor * (w / 2) + cx, ny * factor * (w / 2) + cy
    lin = cv2.remap(lin, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    moved = None
    if mask is not None:
        moved = cv2.remap(mask.astype(np.uint8), mapx, mapy, cv2.INTER_NEAREST, borderValue=0) > 0
    vignette = float(rng.uniform(0.1, 0.45))
    lin = lin * (1 - vignette * r2 / max(1e-6, float(r2.max())))[:, :, None]
    # Exposure and the white balance of another light source.
    balance = rng.uniform(0.82, 1.18, 3).astype(np.float32)
    lin = lin * balance * float(rng.uniform(0.75, 1.3))
    # Sensor: RGGB mosaic, shot noise (Poisson-like) and read noise, 10-bit.
    full = float(rng.uniform(300, 1200))  # electrons at white: small phone pixels
    mosaic = np.empty((h, w), np.float32)
    mosaic[0::2, 0::2] = lin[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = lin[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = lin[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = lin[1::2, 1::2, 2]
    electrons = np.clip(mosaic, 0, 1.2) * full
    electrons = electrons + rng.normal(0, 1, electrons.shape).astype(np.float32) * np.sqrt(electrons + 4.0)
    raw = np.clip(electrons / full * 1023.0, 0, 1023).astype(np.uint16)
    demosaic = cv2.COLOR_BayerBG2RGB_EA if rng.random() < 0.5 else cv2.COLOR_BayerBG2RGB
    rgb = cv2.cvtColor(raw, demosaic).astype(np.float32) / 1023.0
    # Tone: gamma plus a gentle S-curve, as phone pipelines render.
    out = _to_srgb(rgb) / 255.0
    s = float(rng.uniform(0.0, 0.25))
    out = out + s * (out - 0.5) * (1 - np.abs(2 * out - 1))
    out = out * 255.0
    # Sharpening: unsharp mask.
    amount, radius = float(rng.uniform(0.2, 1.0)), float(rng.uniform(0.8, 2.0))
    out = out + amount * (out - cv2.GaussianBlur(out, (0, 0), radius))
    q = int(rng.integers(quality[0], quality[1] + 1))
    params.update(
        k1=round(k1, 3), vignette=round(vignette, 2), full_well=round(full), sharpen=round(amount, 2), quality=q
    )
    return jpeg(np.clip(out, 0, 255).astype(np.uint8), q), params, moved


def background_scene(rng: np.random.Generator, textures: list[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """Return a cluttered table-top scene (float32 sRGB) of `size` (w, h): a surface and a few objects."""
    w, h = size
    base = textures[int(rng.integers(len(textures)))]
    scene = cv2.resize(base, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    scene = scene * rng.uniform(0.4, 0.9) + rng.uniform(0, 60, 3).astype(np.float32) * rng.uniform(0.3, 1.0)
    for _ in range(int(rng.integers(1, 5))):  # clutter: patches of other textures
        tex = textures[int(rng.integers(len(textures)))]
        pw, ph = int(rng.uniform(0.1, 0.35) * w), int(rng.uniform(0.1, 0.35) * h)
        patch = cv2.resize(tex, (pw, ph)).astype(np.float32) * rng.uniform(0.5, 1.1)
        mask = np.zeros((ph, pw), np.float32)
        cv2.ellipse(mask, (pw // 2, ph // 2), (pw // 2 - 1, ph // 2 - 1), 0, 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), 2.0)[:, :, None]
        x, y = int(rng.uniform(0, w - pw)), int(rng.uniform(0, h - ph))
        scene[y : y + ph, x : x + pw] = scene[y : y + ph, x : x + pw] * (1 - mask) + patch * mask
    return scene


def _relief_shading(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Return the shading of an object with relief under a directional light, plus highlights."""
    height = smooth_field(rng, shape, int(rng.integers(2, 6))) * float(rng.uniform(0.1, 0.35)) * max(shape)
    gy, gx = np.gradient(height)
    normal = np.dstack([-gx, -gy, np.ones_like(gx)])
    normal /= np.linalg.norm(normal, axis=2, keepdims=True)
    light = np.array([rng.uniform(-0.7, 0.7), rng.uniform(-0.7, 0.7), 1.0], np.float32)
    light /= np.linalg.norm(light)
    ambient = float(rng.uniform(0.25, 0.5))
    shade = ambient + (1 - ambient) * np.clip(normal @ light, 0, 1)
    spec = np.clip(normal @ ((light + np.array([0, 0, 1.0], np.float32)) / 2), 0, 1) ** float(rng.uniform(20, 80))
    return shade.astype(np.float32), (spec * float(rng.uniform(0.0, 0.6))).astype(np.float32)


def product_photo(
    product: np.ndarray,
    rng: np.random.Generator,
    textures: list[np.ndarray],
    *,
    kind: str,
    out_size: tuple[int, int] = (1280, 960),
) -> tuple[bytes, dict]:
    """Return a hand-held phone photograph of `product` (its catalogue photo, RGB uint8) in a new scene.

    kind "object": the product itself, photographed anew: it bends beyond one
    homography (viewpoint parallax, curved or soft surfaces), its relief is shaded by
    the new light with specular highlights, it may be partly covered by a hand or an
    object. kind "card": a printed card or cut-out of the catalogue photo, flat, mildly
    tilted and relit, with paper texture.
    """
    h, w = product.shape[:2]
    ow, oh = out_size if rng.random() < 0.7 else (out_size[1], out_size[0])
    scene = background_scene(rng, textures, (ow, oh))
    src = product.astype(np.float32)
    if kind == "card":
        p = src / 255.0
        p = 0.05 + 0.88 * (p @ (np.eye(3, dtype=np.float32) * 0.88 + 0.04).T)
        p = p * (1 + 0.03 * smooth_field(rng, (h, w), max(h, w) // 3))[:, :, None]
        src = cv2.GaussianBlur(p * 255.0, (0, 0), 0.6)
    # One object photo in four is a close-up: the product fills the frame, no scene around it.
    close_up = kind == "object" and rng.random() < 0.25
    fill = float(
        rng.uniform(1.0, 1.3) if close_up else rng.uniform(0.35, 0.85) if kind == "object" else rng.uniform(0.4, 0.8)
    )
    k = max(ow / w, oh / h) * fill if close_up else min(ow * fill / w, oh * fill / h)
    cw, ch = w * k, h * k
    if close_up:
        x0, y0 = rng.uniform(ow - cw, 0), rng.uniform(oh - ch, 0)
    else:
        x0, y0 = rng.uniform(0.02 * ow, ow - cw - 0.02 * ow), rng.uniform(0.02 * oh, oh - ch - 0.02 * oh)
    tilt = float(rng.uniform(0.03, 0.14) if kind == "object" else rng.uniform(0.01, 0.05))
    dst = np.float32([[x0, y0], [x0 + cw, y0], [x0 + cw, y0 + ch], [x0, y0 + ch]])
    dst = dst + rng.uniform(-tilt, tilt, (4, 2)).astype(np.float32) * np.float32([cw, ch])
    H = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), dst)
    Hinv = np.linalg.inv(H)
    yy, xx = np.mgrid[0:oh, 0:ow].astype(np.float32)
    pts = np.stack([xx, yy, np.ones_like(xx)], axis=2) @ Hinv.T.astype(np.float32)
    mapx, mapy = pts[:, :, 0] / pts[:, :, 2], pts[:, :, 1] / pts[:, :, 2]
    bend = 0.0
    if kind == "object":
        # Parallax and a surface that is not flat: a smooth displacement of 0.5-3 % of
        # the product's size, in product pixels.
        bend = float(rng.uniform(0.005, 0.03))
        dx = smooth_field(rng, (oh, ow), int(rng.integers(2, 5))) * bend * max(w, h)
        dy = smooth_field(rng, (oh, ow), int(rng.integers(2, 5))) * bend * max(w, h)
        mapx, mapy = mapx + dx, mapy + dy
    inside = ((mapx >= 0) & (mapx <= w - 1) & (mapy >= 0) & (mapy <= h - 1)).astype(np.float32)
    layer = cv2.remap(src, mapx, mapy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    cover = cv2.GaussianBlur(inside, (0, 0), 0.8)[:, :, None]
    # Light: a gradient over the scene; on the object, its own relief shading and highlights.
    gx, gy = rng.uniform(-0.35, 0.35, 2)
    light = (1 + gx * (xx / ow - 0.5) + gy * (yy / oh - 0.5)).astype(np.float32)
    lin_layer = _to_linear(layer)
    if kind == "object":
        shade, spec = _relief_shading(rng, (oh, ow))
        lin_layer = lin_layer * shade[:, :, None] + spec[:, :, None]
    else:
        glare_at = rng.uniform(0.1, 0.9, 2) * np.float32([ow, oh])
        glare = float(rng.uniform(0.0, 0.2)) * np.exp(
            -((xx - glare_at[0]) ** 2 + (yy - glare_at[1]) ** 2) / (2 * (0.12 * ow) ** 2)
        )
        lin_layer = lin_layer + glare[:, :, None]
    lin = _to_linear(scene) * (1 - cover) + lin_layer * cover
    # Shadow of the product on the table, offset toward the light's far side.
    shadow = cv2.GaussianBlur(np.roll(inside, (int(gy * 40) + 8, int(gx * 40) + 8), axis=(0, 1)), (0, 0), 12)
    lin = lin * (1 - 0.35 * shadow * (1 - cover[:, :, 0]))[:, :, None]
    lin = lin * light[:, :, None]
    occluded = 0.0
    if kind == "object" and rng.random() < 0.5:
        # A finger or another object in front of the product.
        occ = np.zeros((oh, ow), np.float32)
        ex, ey = x0 + rng.uniform(0, cw), y0 + (ch if rng.random() < 0.5 else 0)
        cv2.ellipse(
            occ,
            (int(ex), int(ey)),
            (int(rng.uniform(0.05, 0.12) * ow), int(rng.uniform(0.1, 0.25) * oh)),
            float(rng.uniform(0, 180)),
            0,
            360,
            1.0,
            -1,
        )
        occ = cv2.GaussianBlur(occ, (0, 0), 3.0)[:, :, None]
        skin = _to_linear(np.float32([rng.uniform(170, 230), rng.uniform(120, 170), rng.uniform(90, 140)]))
        lin = lin * (1 - occ) + skin * (0.6 + 0.4 * smooth_field(rng, (oh, ow), 3)[:, :, None] * 0.3) * occ
        occluded = float((occ[:, :, 0] * cover[:, :, 0]).sum() / max(1.0, float(cover.sum())))
    # Focus: hand-held, never quite sharp.
    lin = cv2.GaussianBlur(lin, (0, 0), float(rng.uniform(0.5, 1.4)))
    data, cam, _ = phone_camera(_to_srgb(lin), rng)
    cam.update(kind=kind, fill=round(fill, 2), tilt=round(tilt, 3), bend=round(bend, 4), occluded=round(occluded, 3))
    return data, cam


def flat_product_photo(
    product: np.ndarray,
    rng: np.random.Generator,
    *,
    sagitta: float | None = None,
    k1: float | None = None,
    tilt_deg: float | None = None,
    printed: bool | None = None,
    glare: float | None = None,
    out_size: tuple[int, int] = (1280, 960),
) -> tuple[bytes, dict]:
    """Return a mild phone photograph of a flat product: a card of `product` lying on a light plain table.

    The card (printed, or a cut-out of the catalogue picture itself) is bowed along one
    side into an arc of `sagitta` (share of its length, 0.4-3 % if not given), seen
    through a pinhole camera tilted `tilt_deg` (3-10 degrees) at about one and a half
    card lengths, lit by a gradient with the shading of its own bow and a specular band
    that lies where the bow turns the card toward the light (`glare`, its strength in
    linear light: 0.08-0.3 if not given; it moves with the view, so no catalogue photo
    has it), then taken by `phone_camera` with barrel distortion
    `k1` (0.02-0.05). The table is plain and light: nothing around the card is scene.
    """
    h, w = product.shape[:2]
    ow, oh = out_size if w >= h else (out_size[1], out_size[0])
    sagitta = float(rng.uniform(0.004, 0.03) if sagitta is None else sagitta)
    k1 = float(rng.uniform(0.02, 0.05) if k1 is None else k1)
    tilt = np.deg2rad(float(rng.uniform(3.0, 10.0) if tilt_deg is None else tilt_deg))
    printed = bool(rng.random() < 0.5 if printed is None else printed)
    src = product.astype(np.float32) / 255.0
    if printed:
        # Print: a narrower gamut, a paper white, ink density that varies a little.
        src = 0.05 + 0.88 * (src @ (np.eye(3, dtype=np.float32) * 0.88 + 0.04).T)
        src = src * (1 + 0.02 * smooth_field(rng, (h, w), max(h, w) // 3))[:, :, None]
        src = cv2.GaussianBlur(src, (0, 0), 0.5)
    # The card's surface: a parabolic arc across u (or v), height in product pixels.
    along_u = bool(rng.random() < 0.5)
    length = w if along_u else h
    sign = 1.0 if rng.random() < 0.5 else -1.0

    def height(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        t = np.clip(2 * (u if along_u else v) / length - 1.0, -1.5, 1.5)
        return sign * sagitta * length * (1.0 - t**2)

    # The camera: the card turned by `tilt` about a random axis in its plane, a small
    # turn in the plane, at distance D; the focal length makes it fill 45-75 % of the frame.
    axis = float(rng.uniform(0, 2 * np.pi))
    turn = float(rng.uniform(-0.25, 0.25))
    rvec = np.float64([np.cos(axis) * tilt, np.sin(axis) * tilt, turn])
    rot, _ = cv2.Rodrigues(rvec)
    distance = max(w, h) * float(rng.uniform(1.3, 2.0))
    fill = float(rng.uniform(0.45, 0.75))
    focal = fill * min(ow / w, oh / h) * distance
    centre = np.float64([ow / 2, oh / 2]) + rng.uniform(-0.08, 0.08, 2) * np.float64([ow, oh])

    def project(u: np.ndarray, v: np.ndarray, *, bowed: bool = True) -> tuple[np.ndarray, np.ndarray]:
        z = height(u, v) if bowed else np.zeros_like(u)
        pts = np.stack([u - w / 2, v - h / 2, z], axis=-1) @ rot.T
        z = pts[..., 2] + distance
        return focal * pts[..., 0] / z + centre[0], focal * pts[..., 1] / z + centre[1]

    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    flat_corners = np.stack(project(corners[:, 0], corners[:, 1], bowed=False), axis=1).astype(np.float32)
    to_card = cv2.getPerspectiveTransform(flat_corners, corners).astype(np.float64)
    yy, xx = np.mgrid[0:oh, 0:ow].astype(np.float64)

    def unflat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = to_card[2, 0] * x + to_card[2, 1] * y + to_card[2, 2]
        return (to_card[0, 0] * x + to_card[0, 1] * y + to_card[0, 2]) / d, (
            to_card[1, 0] * x + to_card[1, 1] * y + to_card[1, 2]
        ) / d

    # Invert the bowed projection by fixed-point steps through the flat one (the bow
    # moves points by a few pixels, so four steps leave well under a tenth of one).
    u, v = unflat(xx, yy)
    target_u, target_v = u, v
    for _ in range(4):
        px, py = project(u, v)
        fu, fv = unflat(px, py)
        u, v = u + (target_u - fu), v + (target_v - fv)
    mapx, mapy = u.astype(np.float32), v.astype(np.float32)
    inside = ((mapx >= 0) & (mapx <= w - 1) & (mapy >= 0) & (mapy <= h - 1)).astype(np.float32)
    layer = cv2.remap(src, mapx, mapy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    cover = cv2.GaussianBlur(inside, (0, 0), 0.8)[:, :, None]
    # Light: a gradient over the frame; on the card, the bow's shading and the band.
    t = np.clip((2 * (mapx / w if along_u else mapy / h) - 1.0), -1, 1)
    slope = -2 * sign * sagitta * t * 2  # dz/dt of the arc, in units of the card's length
    shade = 1.0 + float(rng.uniform(0.5, 1.5)) * slope
    band_at = float(rng.uniform(-0.7, 0.7))
    strength = float(rng.uniform(0.08, 0.3)) if glare is None else float(glare)
    band = strength * np.exp(-((t - band_at) ** 2) / (2 * float(rng.uniform(0.06, 0.15)) ** 2))
    gx, gy = rng.uniform(-0.25, 0.25, 2)
    light = (1 + gx * (xx / ow - 0.5) + gy * (yy / oh - 0.5)).astype(np.float32)
    lin_card = np.power(np.clip(layer, 0, 1), 2.2) * shade[:, :, None].astype(np.float32) + band[:, :, None].astype(
        np.float32
    )
    table_level = float(rng.uniform(0.55, 0.8))
    tint = rng.uniform(0.95, 1.05, 3).astype(np.float32)
    table = table_level * tint * (1 + 0.03 * smooth_field(rng, (oh, ow), 3))[:, :, None]
    shadow = cv2.GaussianBlur(np.roll(inside, (int(gy * 30) + 6, int(gx * 30) + 6), axis=(0, 1)), (0, 0), 10)
    table = table * (1 - 0.3 * shadow * (1 - cover[:, :, 0]))[:, :, None]
    lin = (table * (1 - cover) + lin_card * cover) * light[:, :, None]
    lin = cv2.GaussianBlur(lin.astype(np.float32), (0, 0), float(rng.uniform(0.5, 1.1)))
    data, cam, _ = phone_camera(_to_srgb(lin), rng, k1=k1)
    cam.update(
        kind="flat",
        printed=printed,
        sagitta=round(sagitta, 4),
        tilt_deg=round(float(np.rad2deg(tilt)), 1),
        glare=round(strength, 3),
        fill=round(fill, 2),
    )
    return data, cam


def paint_damage(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return (damaged image, mask of visibly changed pixels): scratches, dents, water marks, burns,
    cracks or a missing piece, 1-2 of them, drawn at 3-20 % of the picture's short side."""
    h, w = img.shape[:2]
    m = min(h, w)
    out = img.astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for kind in rng.choice(["scratches", "dent", "water", "burn", "crack", "missing"], size=int(rng.integers(1, 3))):
        cx, cy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h
        size = float(rng.uniform(0.06, 0.2)) * m
        if kind == "scratches":
            layer = np.zeros((h, w), np.float32)
            base = rng.uniform(0, np.pi)
            for _ in range(int(rng.integers(3, 8))):
                a = base + rng.normal(0, 0.15)
                ox, oy = rng.normal(0, size * 0.3, 2)
                length = rng.uniform(0.6, 1.4) * size
                p0 = (int(cx + ox - np.cos(a) * length / 2), int(cy + oy - np.sin(a) * length / 2))
                p1 = (int(cx + ox + np.cos(a) * length / 2), int(cy + oy + np.sin(a) * length / 2))
                cv2.line(layer, p0, p1, 1.0, int(rng.integers(1, 3)), cv2.LINE_AA)
            tone = 255.0 if rng.random() < 0.6 else 20.0
            a3 = (layer * rng.uniform(0.6, 0.9))[:, :, None]
            out = out * (1 - a3) + tone * a3
        elif kind == "dent":
            r = np.hypot((xx - cx) / size, (yy - cy) / (size * rng.uniform(0.5, 1.0)))
            bump = np.clip(1 - r, 0, 1) ** 1.5
            gy_, gx_ = np.gradient(bump)
            ang = rng.uniform(0, 2 * np.pi)
            relief = (gx_ * np.cos(ang) + gy_ * np.sin(ang)) * size * rng.uniform(1.2, 2.5)
            out = out * (1 + np.clip(relief, -0.6, 0.6))[:, :, None] - 25 * bump[:, :, None]
        elif kind == "water":
            r = np.hypot(xx - cx, yy - cy) / size + 0.25 * smooth_field(rng, (h, w), 8)
            ring = np.exp(-((r - 1.0) ** 2) / 0.006) * rng.uniform(0.4, 0.7)
            inside = (r < 1.0).astype(np.float32) * rng.uniform(0.1, 0.25)
            tint = np.float32([rng.uniform(120, 170), rng.uniform(100, 140), rng.uniform(60, 100)])
            a3 = np.clip(ring + inside, 0, 1)[:, :, None]
            out = out * (1 - a3) + tint * a3
        elif kind == "burn":
            r = np.hypot((xx - cx) / size, (yy - cy) / size) + 0.35 * smooth_field(rng, (h, w), 10)
            core = np.clip((0.7 - r) * 4, 0, 1)
            halo = np.clip((1.2 - r) * 2, 0, 1) * 0.6
            out = out * (1 - halo[:, :, None]) + np.float32([90, 55, 25]) * halo[:, :, None]
            out = out * (1 - core[:, :, None]) + 15.0 * core[:, :, None]
        elif kind == "crack":
            layer = np.zeros((h, w), np.float32)
            stack = [(cx, cy, rng.uniform(0, 2 * np.pi), size * 1.2, 3)]
            while stack:
                x, y, a, length, width = stack.pop()
                pts = [(x, y)]
                for _ in range(8):
                    a += rng.normal(0, 0.35)
                    x, y = x + np.cos(a) * length / 8, y + np.sin(a) * length / 8
                    pts.append((x, y))
                cv2.polylines(layer, [np.int32(pts).reshape(-1, 1, 2)], False, 1.0, max(1, width), cv2.LINE_AA)
                if width > 1 and len(stack) < 6:
                    stack.append((x, y, a + rng.normal(0, 0.8), length * 0.6, width - 1))
            a3 = (layer * 0.85)[:, :, None]
            out = out * (1 - a3) + 30.0 * a3
        else:  # missing: a piece torn out, showing the backing, with a dark rim
            mask = np.zeros((h, w), np.float32)
            angles = np.sort(rng.uniform(0, 2 * np.pi, 11))
            radii = size * rng.uniform(0.5, 1.1, 11)
            poly = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1).astype(np.int32)
            cv2.fillPoly(mask, [poly.reshape(-1, 1, 2)], 1.0)
            rim = cv2.polylines(np.zeros((h, w), np.float32), [poly.reshape(-1, 1, 2)], True, 1.0, 3)
            backing = np.float32([rng.uniform(180, 240)] * 3) * (1 + 0.05 * smooth_field(rng, (h, w), 30))[:, :, None]
            out = out * (1 - mask[:, :, None]) + backing * mask[:, :, None]
            out = out * (1 - 0.6 * rim[:, :, None]) + 50 * 0.6 * rim[:, :, None]
    edited = np.clip(out, 0, 255).astype(np.uint8)
    # Only what a reviewer could see counts as the edit (paint on black changes nothing).
    changed = np.abs(edited.astype(np.int16) - img.astype(np.int16)).max(axis=2) > 20
    # Isolated pixels (a scratch's anti-aliased fringe) are not an edit anyone could box;
    # the even kernel shifts by a pixel, so keep only what really changed.
    opened = cv2.morphologyEx(changed.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)) > 0
    return edited, opened & changed


def warp_mask(mask: np.ndarray, H: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Return `mask` warped by the 3x3 homography H into an image of `size` (w, h)."""
    return cv2.warpPerspective(mask.astype(np.uint8), H, size, flags=cv2.INTER_NEAREST) > 0


def screen_photo(
    img: np.ndarray, mask: np.ndarray, rng: np.random.Generator, *, out_size: tuple[int, int] = (1280, 960)
) -> tuple[bytes, np.ndarray, dict]:
    """Return (JPEG, `mask` in photo pixels, parameters): `img` shown on a screen and photographed.

    The screen: `img` at the display's pixel grid with RGB sub-pixel stripes, its own
    gamma and a reflection; then a hand-held phone a little off-axis.
    """
    h, w = img.shape[:2]
    ow, oh = out_size if w >= h else (out_size[1], out_size[0])
    fill = float(rng.uniform(0.6, 0.95))
    k = min(ow * fill / w, oh * fill / h)
    cw, ch = w * k, h * k
    x0, y0 = (ow - cw) / 2 + rng.uniform(-0.03, 0.03) * ow, (oh - ch) / 2 + rng.uniform(-0.03, 0.03) * oh
    tilt = float(rng.uniform(0.01, 0.06))
    dst = np.float32([[x0, y0], [x0 + cw, y0], [x0 + cw, y0 + ch], [x0, y0 + ch]])
    dst = dst + rng.uniform(-tilt, tilt, (4, 2)).astype(np.float32) * np.float32([cw, ch])
    H = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), dst)
    # Display: each image pixel becomes 3 sub-pixel columns; the panel is seen at an angle.
    sub = 3
    panel = cv2.resize(img, (w * sub, h * sub), interpolation=cv2.INTER_NEAREST).astype(np.float32)
    stripes = np.zeros((1, w * sub, 3), np.float32)
    for c in range(3):
        stripes[0, c::sub, c] = 1.0
    panel = panel * (0.25 + 0.75 * stripes)
    S = np.diag([1 / sub, 1 / sub, 1]).astype(np.float64)
    Hp = H @ S
    lin_panel = _to_linear(panel) * float(rng.uniform(0.8, 1.4))
    warped = cv2.warpPerspective(lin_panel, Hp, (ow, oh), flags=cv2.INTER_AREA)
    cover = cv2.warpPerspective(np.ones(panel.shape[:2], np.float32), Hp, (ow, oh), flags=cv2.INTER_LINEAR)
    room = (
        _to_linear(np.full((oh, ow, 3), rng.uniform(20, 90), np.float32))
        * (1 + 0.3 * smooth_field(rng, (oh, ow), 3))[:, :, None]
    )
    lin = room * (1 - cover[:, :, None]) + warped
    yy, xx = np.mgrid[0:oh, 0:ow].astype(np.float32)
    gx, gy = rng.uniform(0.2, 0.8) * ow, rng.uniform(0.2, 0.8) * oh
    reflection = float(rng.uniform(0.0, 0.08)) * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * (0.25 * ow) ** 2))
    lin = lin + reflection[:, :, None] * cover[:, :, None]
    lin = cv2.GaussianBlur(lin, (0, 0), float(rng.uniform(0.6, 1.3)))
    seen = cv2.warpPerspective(mask.astype(np.uint8), H, (ow, oh), flags=cv2.INTER_NEAREST)
    data, cam, moved = phone_camera(_to_srgb(lin), rng, mask=seen)
    cam.update(kind="screen", fill=round(fill, 2), tilt=round(tilt, 3))
    assert moved is not None
    return data, moved, cam
