"""Tuning material for the display (moiré) check: photographed screens against honest photographs.

Usage: .venv/bin/python bench/display_material.py DIR [--seeds 1500 1600] [--limit N]

Writes references, evidence files and DIR/cases.json. Catalogue photos are those of
bench/accuracy.py's tuning half (seeds 1000 and 3000); never the hold-out's.

Classes:
- screen: a forgery shown on a screen and photographed (synthetic.screen_photo);
- card, object: synthetic.product_photo of the catalogue photo;
- texture: a product whose surface is its catalogue picture enlarged from a small original
  (pixel-pitch blocks) or carries a procedural knit, mesh or weave; the catalogue photo is
  large (1400-2000 px) and the photograph is taken at 1280-3000 px, flat and tilted
  3-40 degrees, through the phone pipeline (Bayer, both OpenCV demosaics, sharpening,
  JPEG 80-92 with 4:2:0);
- device: a phone or monitor as the product, photographed switched on: its screen (a part
  of the catalogue photo) shows the picture through a pixel grid, the rest does not.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import synthetic  # noqa: E402
from bench.accuracy import HALVES, TEXTURES, _gray3, products  # noqa: E402
from bench.synthetic import _to_linear, _to_srgb, background_scene, phone_camera  # noqa: E402


def catalogue() -> list[tuple[str, np.ndarray]]:
    parts = [p for p in HALVES["tuning"] if p.seed in (1_000, 3_000)]
    return [item for part in parts for item in products(part)]


def _tilted(w: int, h: int, out: tuple[int, int], rng: np.random.Generator, degrees: float, fill: float) -> np.ndarray:
    """Return the homography of a w x h plane rotated by `degrees` out of the image plane, filling `fill` of `out`."""
    ow, oh = out
    a = np.deg2rad(degrees)
    axis = rng.uniform(0, np.pi)
    ux, uy = np.cos(axis), np.sin(axis)
    # Rotation about an in-plane axis (ux, uy, 0) by a (Rodrigues).
    K = np.array([[0, 0, uy], [0, 0, -ux], [-uy, ux, 0]])
    R = np.eye(3) + np.sin(a) * K + (1 - np.cos(a)) * K @ K
    f = 1.2 * max(ow, oh)
    corners = np.array([[-w / 2, -h / 2, 0], [w / 2, -h / 2, 0], [w / 2, h / 2, 0], [-w / 2, h / 2, 0]], float)
    dist = f  # arbitrary; scale fixed below
    pts = corners @ R.T + np.array([0, 0, dist])
    proj = pts[:, :2] * f / pts[:, 2:3]
    proj -= proj.mean(axis=0)
    span = proj.max(axis=0) - proj.min(axis=0)
    k = fill * min(ow / span[0], oh / span[1])
    proj = proj * k + np.array([ow / 2, oh / 2]) + rng.uniform(-0.03, 0.03, 2) * np.array([ow, oh])
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    return cv2.getPerspectiveTransform(src, proj.astype(np.float32))


def _photograph(layer_lin: np.ndarray, H: np.ndarray, out: tuple[int, int], rng, textures, *, flags=cv2.INTER_CUBIC):
    """Photograph a flat product (linear light) placed by H on a table scene; return JPEG bytes and params."""
    ow, oh = out
    scene = _to_linear(background_scene(rng, textures, (ow, oh)))
    warped = cv2.warpPerspective(layer_lin, H, (ow, oh), flags=flags)
    cover = cv2.warpPerspective(np.ones(layer_lin.shape[:2], np.float32), H, (ow, oh), flags=cv2.INTER_LINEAR)
    cover = cv2.GaussianBlur(cover, (0, 0), 0.8)[:, :, None]
    yy, xx = np.mgrid[0:oh, 0:ow].astype(np.float32)
    # A glossy reflection band across the product, and a light gradient.
    angle = rng.uniform(0, np.pi)
    d = (xx - ow * rng.uniform(0.2, 0.8)) * np.cos(angle) + (yy - oh * rng.uniform(0.2, 0.8)) * np.sin(angle)
    band = float(rng.uniform(0.0, 0.25)) * np.exp(-(d**2) / (2 * (rng.uniform(0.03, 0.1) * ow) ** 2))
    gx, gy = rng.uniform(-0.3, 0.3, 2)
    light = (1 + gx * (xx / ow - 0.5) + gy * (yy / oh - 0.5)).astype(np.float32)
    lin = (scene * (1 - cover) + (warped + band[:, :, None]) * cover) * light[:, :, None]
    # Depth-dependent defocus: a sharp and a blurred version mixed along a gradient.
    sharp = cv2.GaussianBlur(lin, (0, 0), float(rng.uniform(0.4, 0.8)))
    soft = cv2.GaussianBlur(lin, (0, 0), float(rng.uniform(1.0, 2.0)))
    t = np.clip((xx / ow) * rng.uniform(-1, 1) + (yy / oh) * rng.uniform(-1, 1) + 0.5, 0, 1)[:, :, None]
    lin = sharp * (1 - t) + soft * t
    return phone_camera(_to_srgb(lin), rng, quality=(80, 92))[:2]


def _textured(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Return a large catalogue photo (uint8) with a fine regular texture, and its kind."""
    h, w = img.shape[:2]
    long_side = int(rng.integers(1400, 2001))
    k = long_side / max(h, w)
    size = (round(w * k), round(h * k))
    kind = str(rng.choice(["pixels", "knit", "mesh", "weave"]))
    if kind == "pixels":
        pitch = float(rng.uniform(3.0, 12.0))  # catalogue px per original px
        small = cv2.resize(
            img, (max(8, round(size[0] / pitch)), max(8, round(size[1] / pitch))), interpolation=cv2.INTER_AREA
        )
        interp = cv2.INTER_NEAREST if rng.random() < 0.6 else cv2.INTER_LINEAR
        return cv2.resize(small, size, interpolation=interp), f"pixels{pitch:.1f}"
    base = cv2.resize(img, size, interpolation=cv2.INTER_CUBIC).astype(np.float32)
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]].astype(np.float32)
    pitch = float(rng.uniform(4.0, 14.0))
    rot = rng.uniform(0, np.pi)
    u = (xx * np.cos(rot) + yy * np.sin(rot)) / pitch
    v = (-xx * np.sin(rot) + yy * np.cos(rot)) / pitch
    if kind == "knit":  # rows of V-shaped stitches
        pattern = 0.5 + 0.5 * np.cos(2 * np.pi * (u + 0.5 * np.abs(((v / 2) % 1) - 0.5) * 2)) * np.cos(np.pi * v) ** 2
    elif kind == "mesh":  # holes on a square lattice
        pattern = np.clip(np.abs(np.sin(np.pi * u)) + np.abs(np.sin(np.pi * v)), 0, 1)
    else:  # over-under weave
        warp = np.cos(np.pi * u) ** 2
        weft = np.cos(np.pi * v) ** 2
        parity = (np.floor(u) + np.floor(v)) % 2
        pattern = np.where(parity > 0, warp, weft)
    depth = float(rng.uniform(0.15, 0.45))
    out = base * (1 - depth + depth * pattern[:, :, None])
    if rng.random() < 0.5:  # yarns of two colours
        tint = rng.uniform(0.85, 1.15, 3).astype(np.float32)
        out = out * (1 + (tint - 1) * pattern[:, :, None])
    return np.clip(out, 0, 255).astype(np.uint8), f"{kind}{pitch:.1f}"


def _device(img: np.ndarray, content: np.ndarray, rng: np.random.Generator):
    """Return (catalogue photo, evidence scene in linear light at `sub` x the catalogue, sub): a screen device."""
    h, w = 900, 1200
    if rng.random() < 0.5:
        h, w = w, h
    bg = cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float32) * 0.5 + 60
    cat = bg.copy()
    share = float(rng.uniform(0.3, 0.65))  # the screen's share of the catalogue photo
    sw, sh = int(w * np.sqrt(share)), int(h * np.sqrt(share))
    x0, y0 = (w - sw) // 2, (h - sh) // 2
    b = int(0.06 * min(sw, sh))
    cv2.rectangle(cat, (x0 - b, y0 - b), (x0 + sw + b, y0 + sh + b), (25, 25, 28), -1)
    screen = cv2.resize(content, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32)
    cat[y0 : y0 + sh, x0 : x0 + sw] = screen
    return np.clip(cat, 0, 255).astype(np.uint8), (x0, y0, sw, sh)


def device_photo(img: np.ndarray, content: np.ndarray, rng: np.random.Generator, textures: list[np.ndarray]):
    """Return (catalogue photo, JPEG, screen's share of the catalogue, tilt in degrees) of a device switched on.

    The device (a monitor or phone with a dark bezel on a backdrop made of `img`) shows
    `content` on its screen; the photograph renders the screen through a pixel grid of
    1.2-3 photo pixels with RGB sub-pixel stripes, as synthetic.screen_photo does, and
    the rest of the product as it is.
    """
    cat, (x0, y0, sw, sh) = _device(img, content, rng)
    dh, dw = cat.shape[:2]
    out = (1280, 960) if dw > dh else (960, 1280)
    degrees = float(rng.uniform(3, 25))
    fill = float(rng.uniform(0.6, 0.95))
    H = _tilted(dw, dh, out, rng, degrees, fill)
    # The panel: display pixels of `pitch` catalogue px, each 3 sub-pixel columns.
    scale = min(out) * fill / min(dw, dh)
    pitch = float(rng.uniform(1.2, 3.0)) / scale
    nx, ny = max(8, round(sw / pitch)), max(8, round(sh / pitch))
    region = cat[y0 : y0 + sh, x0 : x0 + sw]
    sub = 3
    small = cv2.resize(region, (nx, ny), interpolation=cv2.INTER_AREA)
    panel = cv2.resize(small, (nx * sub, ny * sub), interpolation=cv2.INTER_NEAREST).astype(np.float32)
    stripes = np.zeros((1, nx * sub, 3), np.float32)
    for c in range(3):
        stripes[0, c::sub, c] = 1.0
    panel = _to_linear(panel * (0.25 + 0.75 * stripes)) * 1.2
    S = np.array([[sw / (nx * sub), 0, x0], [0, sh / (ny * sub), y0], [0, 0, 1]])
    ow, oh = out
    body = cv2.warpPerspective(_to_linear(cat.astype(np.float32)), H, (ow, oh), flags=cv2.INTER_CUBIC)
    on = cv2.warpPerspective(panel, H @ S, (ow, oh), flags=cv2.INTER_AREA)
    where = cv2.warpPerspective(np.ones(panel.shape[:2], np.float32), H @ S, (ow, oh), flags=cv2.INTER_LINEAR)
    cover = cv2.warpPerspective(np.ones((dh, dw), np.float32), H, (ow, oh), flags=cv2.INTER_LINEAR)
    scene = _to_linear(background_scene(rng, textures, (ow, oh)))
    lin = scene * (1 - cover[:, :, None]) + body * (cover - where)[:, :, None] + on
    lin = cv2.GaussianBlur(lin, (0, 0), float(rng.uniform(0.6, 1.3)))
    data, _, _ = phone_camera(_to_srgb(lin), rng, quality=(80, 92))
    return cat, data, sw * sh / (dw * dh), degrees


def build(directory: Path, seeds: list[int], limit: int | None) -> list[dict]:
    directory.mkdir(parents=True, exist_ok=True)
    textures = [_gray3(synthetic.photo(t)) for t in TEXTURES]
    prods = catalogue()[:limit] if limit else catalogue()
    cases: list[dict] = []

    def add(cls, name, ref, data, **info):
        path = directory / f"{cls}-{name}.jpg"
        path.write_bytes(data)
        cases.append(dict(cls=cls, name=name, evidence=str(path), reference=str(ref), **info))

    # In a shuffled order, so that a partial run is a fair sample of the whole.
    for i in np.random.default_rng(0).permutation(len(prods)):
        i = int(i)
        name, img = prods[i]
        ref = directory / f"ref-{name}.jpg"
        ref.write_bytes(synthetic.jpeg(img, 92))
        for seed in seeds:
            rng = np.random.default_rng([seed, i])
            edited, mask = synthetic.paint_damage(img, rng)
            data, _, cam = synthetic.screen_photo(edited, mask, rng)
            add("screen", f"{name}-{seed}", ref, data)
            data, _ = synthetic.product_photo(img, rng, textures, kind="card")
            add("card", f"{name}-{seed}", ref, data)
            data, _ = synthetic.product_photo(img, rng, textures, kind="object")
            add("object", f"{name}-{seed}", ref, data)
        rng = np.random.default_rng([1700, i])
        # A fine-textured product, photographed flat and tilted.
        big, kind = _textured(img, rng)
        tref = directory / f"ref-tex-{name}.jpg"
        tref.write_bytes(synthetic.jpeg(big, 92))
        out = [(1280, 960), (2000, 1500), (3000, 2250)][int(rng.integers(0, 3))]
        if big.shape[0] > big.shape[1]:
            out = (out[1], out[0])
        degrees = float(rng.uniform(3, 10) if rng.random() < 0.5 else rng.uniform(15, 40))
        H = _tilted(big.shape[1], big.shape[0], out, rng, degrees, float(rng.uniform(0.5, 0.85)))
        lin = _to_linear(big.astype(np.float32))
        data, cam = _photograph(lin, H, out, rng, textures)
        add("texture", f"{name}-{kind}", tref, data, degrees=round(degrees, 1), size=list(out), q=cam["quality"])
        # A device as the product, switched on.
        if i % 2 == 0:
            content = prods[(i + 7) % len(prods)][1]
            cat, data, share, degrees = device_photo(img, content, rng, textures)
            dref = directory / f"ref-dev-{name}.jpg"
            dref.write_bytes(synthetic.jpeg(cat, 92))
            add("device", name, dref, data, degrees=round(degrees, 1), share=round(share, 2))
        print(i, name, len(cases), flush=True)
        (directory / "cases.json").write_text(json.dumps(cases, indent=1))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1500, 1600])
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    build(Path(args.directory), args.seeds, args.limit)


if __name__ == "__main__":
    main()
