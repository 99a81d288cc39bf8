"""Pairs of photos for the two-view check (screening.core.viewpair): a real item photographed
from two viewpoints, and the flat pictures a forger could offer instead.

Evaluation material only: the production apps never import it; it imports nothing from Django.

- `item_views`: a textured box (a product in its packaging) and a second, smaller one standing on
  a textured table, rendered in 3-D from two camera poses (a pinhole camera, each face drawn by
  its own homography, far faces first), then through bench.synthetic.phone_camera. Damage painted
  on the front face's texture is on the object, so it appears in both views where it belongs.
- `reprinted`: the first view printed and photographed again (bench.synthetic.rephotograph:
  paper, light, glare, a lens's barrel distortion, noise, JPEG).
- `generated_view`: a second view "generated" from the first: the undamaged picture warped by a
  homography of a plausible viewpoint change, with a smooth local jitter of a few pixels, then a
  phone camera. Damage is painted on the first view only (bench.synthetic.paint_damage).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from bench import synthetic

__all__ = ["Pair", "generated_view", "item_views", "reprinted", "unrelated", "TEXTURES", "PRODUCT_ART"]

# Table tops and product art: scikit-image's bundled pictures (no download).
TEXTURES = ("gravel", "brick", "grass")
PRODUCT_ART = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina")

_SIZE = (1200, 900)  # rendered frame (w, h), before the phone camera


@dataclass(frozen=True)
class Pair:
    """Two photos (JPEG bytes) and, when damage was painted, its box in the first photo's pixels."""

    kind: str
    first: bytes
    second: bytes
    damage_box: tuple[int, int, int, int] | None
    damage_in_both: bool | None
    params: dict


def _picture(name: str, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    img = synthetic.photo(name).astype(np.float32)
    h, w = img.shape[:2]
    # A random crop, so that two faces printed with the same art do not show the same picture.
    k = rng.uniform(0.6, 0.9)
    cw, ch = int(w * k), int(h * k)
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return cv2.resize(img[y0 : y0 + ch, x0 : x0 + cw], size, interpolation=cv2.INTER_AREA)


def _look_at(eye: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (rvec, tvec) of a camera at `eye` looking at `target`, z up in the world."""
    forward = target - eye
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right = right / np.linalg.norm(right)
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])  # world -> camera rows
    rvec, _ = cv2.Rodrigues(rotation)
    return rvec, -rotation @ eye


@dataclass(frozen=True)
class _Face:
    corners: np.ndarray  # (4, 3) world points, counter-clockwise seen from outside
    texture: np.ndarray  # float32 RGB
    damage: np.ndarray | None  # bool mask over the texture


def _box_faces(
    centre: tuple[float, float], size: tuple[float, float, float], turn: float, arts: list[np.ndarray]
) -> list[_Face]:
    sx, sy, sz = size
    c, s = np.cos(turn), np.sin(turn)

    def world(x: float, y: float, z: float) -> np.ndarray:
        return np.array([centre[0] + c * x - s * y, centre[1] + s * x + c * y, z])

    hx, hy = sx / 2, sy / 2
    quads = [
        [(-hx, -hy, sz), (-hx, -hy, 0), (hx, -hy, 0), (hx, -hy, sz)],  # front (facing -y)
        [(hx, -hy, sz), (hx, -hy, 0), (hx, hy, 0), (hx, hy, sz)],  # right
        [(hx, hy, sz), (hx, hy, 0), (-hx, hy, 0), (-hx, hy, sz)],  # back
        [(-hx, hy, sz), (-hx, hy, 0), (-hx, -hy, 0), (-hx, -hy, sz)],  # left
        [(-hx, hy, sz), (-hx, -hy, sz), (hx, -hy, sz), (hx, hy, sz)],  # top
    ]
    return [_Face(np.array([world(*p) for p in q]), art, None) for q, art in zip(quads, arts)]


def _render(
    faces: list[_Face], ground: _Face, rvec: np.ndarray, tvec: np.ndarray, camera: np.ndarray, eye: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return (image float32, damage mask) of the faces seen by the camera, far faces first."""
    w, h = _SIZE
    image = np.zeros((h, w, 3), np.float32)
    damage = np.zeros((h, w), bool)
    visible = []
    for face in faces:
        normal = np.cross(face.corners[1] - face.corners[0], face.corners[3] - face.corners[0])
        centre = face.corners.mean(axis=0)
        if float(normal @ (eye - centre)) <= 0:  # seen from behind
            continue
        visible.append((float(np.linalg.norm(eye - centre)), face))
    visible.sort(key=lambda item: -item[0])
    # The table first: it is below everything. Its corners may lie behind the camera; the
    # homography still holds for every pixel whose ray meets the table in front of the camera,
    # which is every pixel as long as the camera looks down by more than half its field of view.
    for face in [ground] + [face for _, face in visible]:
        th, tw = face.texture.shape[:2]
        projected, _ = cv2.projectPoints(face.corners, rvec, tvec, camera, None)
        quad = projected.reshape(4, 2).astype(np.float32)
        source = np.float32([[0, 0], [0, th], [tw, th], [tw, 0]])
        homography = cv2.getPerspectiveTransform(source, quad)
        drawn = cv2.warpPerspective(face.texture, homography, (w, h), flags=cv2.INTER_LINEAR)
        cover = cv2.warpPerspective(np.ones((th, tw), np.float32), homography, (w, h), flags=cv2.INTER_LINEAR)
        image = image * (1 - cover[:, :, None]) + drawn * cover[:, :, None]
        damage &= cover < 0.5
        if face.damage is not None:
            damage |= synthetic.warp_mask(face.damage, homography, (w, h))
    return image, damage


def _scene(rng: np.random.Generator) -> tuple[list[_Face], _Face]:
    art = [_picture(str(rng.choice(PRODUCT_ART)), rng, (512, 512)) for _ in range(10)]
    table = _picture(str(rng.choice(TEXTURES)), rng, (1200, 1200))
    table = table * rng.uniform(0.6, 1.0) + rng.uniform(0, 40, 3).astype(np.float32)
    ground = _Face(np.array([[-1.0, 1.0, 0.0], [-1.0, -1.0, 0.0], [1.0, -1.0, 0.0], [1.0, 1.0, 0.0]]), table, None)
    size = (rng.uniform(0.18, 0.3), rng.uniform(0.12, 0.22), rng.uniform(0.1, 0.25))
    main = _box_faces((0.0, 0.0), size, rng.uniform(-0.3, 0.3), art[:5])
    side = _box_faces(
        (rng.choice([-1, 1]) * rng.uniform(0.25, 0.32), rng.uniform(0.05, 0.2)),
        (rng.uniform(0.06, 0.12), rng.uniform(0.06, 0.12), rng.uniform(0.05, 0.2)),
        rng.uniform(0, np.pi),
        art[5:],
    )
    return main + side, ground


def _pose(rng: np.random.Generator, azimuth: float, elevation: float, distance: float):
    eye = distance * np.array(
        [np.sin(azimuth) * np.cos(elevation), -np.cos(azimuth) * np.cos(elevation), np.sin(elevation)]
    )
    target = np.array([rng.normal(0, 0.02), rng.normal(0, 0.02), rng.uniform(0.03, 0.08)])
    rvec, tvec = _look_at(eye, target)
    return eye, rvec, tvec


def item_views(seed: int, *, turn_degrees: tuple[float, float] = (12.0, 30.0), damaged: bool = True) -> Pair:
    """Return two phone photos of one rendered item from viewpoints `turn_degrees` apart (drawn)."""
    rng = np.random.default_rng(seed)
    faces, ground = _scene(rng)
    if damaged:
        front = faces[0]
        painted, mask = synthetic.paint_damage(front.texture.astype(np.uint8), rng)
        faces[0] = _Face(front.corners, painted.astype(np.float32), mask)
    w, h = _SIZE
    focal = rng.uniform(0.9, 1.3) * w
    camera = np.array([[focal, 0, w / 2], [0, focal, h / 2], [0, 0, 1]])
    azimuth = rng.uniform(-0.4, 0.4)
    elevation = rng.uniform(0.5, 0.8)
    distance = rng.uniform(0.75, 1.0)
    turn = np.radians(rng.uniform(*turn_degrees)) * rng.choice([-1, 1])
    photos, boxes = [], []
    for az, el, dist in (
        (azimuth, elevation, distance),
        (azimuth + turn, elevation + rng.uniform(-0.1, 0.1), distance * rng.uniform(0.9, 1.1)),
    ):
        eye, rvec, tvec = _pose(rng, az, el, dist)
        image, damage = _render(faces, ground, rvec, tvec, camera, eye)
        data, _, moved = synthetic.phone_camera(image, rng, mask=damage)
        photos.append(data)
        boxes.append(_box_of(moved) if damaged and moved is not None else None)
    return Pair(
        "item",
        photos[0],
        photos[1],
        boxes[0],
        True if boxes[0] is not None else None,
        {"turn": round(float(np.degrees(turn)), 1)},
    )


def _box_of(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Return the box of the largest piece of damage (a reviewer boxes one), or None if there is none."""
    # Pieces of one damage (a crack's branches, a scratch's strokes) lie a few pixels apart.
    joined = cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(joined)
    if count < 2:
        return None
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h = (int(v) for v in stats[largest, :4])
    if w * h < 100:
        return None
    return x, y, w, h


def _decoded(data: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _picture_with_damage(seed: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int] | None]:
    """Return (clean first photo, the same with painted damage, its box): a forger's starting point.

    The clean photo is the first view of an undamaged rendered item: a photograph that looks
    like a real one, so that only geometry tells the pairs apart.
    """
    rng = np.random.default_rng(seed + 50_000)
    clean = _decoded(item_views(seed, damaged=False).first)
    painted, mask = synthetic.paint_damage(clean, rng)
    return clean, painted, _box_of(mask)


def reprinted(seed: int) -> Pair:
    """Return (the damaged picture, a photo of it printed): a flat print offered as a second view."""
    rng = np.random.default_rng(seed + 60_000)
    _, painted, box = _picture_with_damage(seed)
    table = synthetic.photo(str(rng.choice(TEXTURES)))
    second, params = synthetic.rephotograph(painted, table, rng)
    return Pair("reprinted", synthetic.jpeg(painted, 92), second, box, True if box else None, params)


def generated_view(seed: int, *, jitter_px: tuple[float, float] = (0.0, 3.0)) -> Pair:
    """Return (the damaged picture, a second view warped from the undamaged one by a homography,
    with a smooth local jitter of `jitter_px` pixels (drawn), through a phone camera)."""
    rng = np.random.default_rng(seed + 70_000)
    clean, painted, box = _picture_with_damage(seed)
    h, w = clean.shape[:2]
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    # A viewpoint change of the same size as item_views' (the corners move by 4-12 % of the frame).
    moved = corners + rng.uniform(-0.12, 0.12, (4, 2)).astype(np.float32) * np.float32([w, h])
    homography = cv2.getPerspectiveTransform(corners, moved)
    warped = cv2.warpPerspective(clean.astype(np.float32), homography, (w, h), borderMode=cv2.BORDER_REFLECT)
    amplitude = float(rng.uniform(*jitter_px))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx = synthetic.smooth_field(rng, (h, w), 12) * amplitude
    dy = synthetic.smooth_field(rng, (h, w), 12) * amplitude
    jittered = cv2.remap(warped, xx + dx, yy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    second, _, _ = synthetic.phone_camera(jittered, rng)
    return Pair(
        "generated",
        synthetic.jpeg(painted, 92),
        second,
        box,
        False if box else None,
        {"jitter_px": round(amplitude, 2)},
    )


# Pictures that no rendered item uses: an unrelated second photo is one of them.
OTHER_PICTURES = ("camera", "moon", "coins", "horse", "page", "text", "cell", "microaneurysms", "motorcycle", "clock")


def unrelated(seed: int) -> Pair:
    """Return (a rendered item's photo, a phone photo of another picture): not the same thing."""
    rng = np.random.default_rng(seed + 80_000)
    other = _picture(str(rng.choice(OTHER_PICTURES)), rng, _SIZE)
    second, _, _ = synthetic.phone_camera(other, rng)
    return Pair("unrelated", item_views(seed, damaged=False).first, second, None, None, {})
