"""A photographed screen is recognised by its moiré; a photographed print is not mistaken for one."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from bench import display_material, synthetic
from screening.core import analyse_reference, display, screen_evidence
from screening.core.align import EVIDENCE_FEATURES, extract_features, match_features
from screening.core.decode import decode_image
from screening.core.display import _box, display_moire, display_moire_fine, file_grid
from screening.core.localise import compare
from screening.core.screen import _DISPLAY_FINE_LIMIT, _DISPLAY_LIMIT, _FRAME_LIMIT, _LATTICE_LIMIT

TEXTURES = [synthetic.photo(name) for name in ("brick", "grass", "gravel")]


@pytest.fixture(scope="module")
def catalogue():
    img = synthetic.photo("chelsea")[40:360, 60:520]
    return img, analyse_reference(synthetic.jpeg(img, 92))


def _derived_screen(catalogue, seed: int):
    """Return the derived finding of a screen photographed showing a forgery of the catalogue photo."""
    img, reference = catalogue
    rng = np.random.default_rng(seed)
    edited, mask = synthetic.paint_damage(img, rng)
    data, _, _ = synthetic.screen_photo(edited, mask, rng)
    report = screen_evidence(data, references=[reference], with_artifacts=False)
    derived = report.finding("derived_from_reference")
    assert report.verdict == "derived_from_reference" and derived is not None
    return derived


@pytest.mark.parametrize("seed", [1700, 1703, 1704])
def test_a_photographed_screen_showing_a_forgery_is_derived_by_the_display(catalogue, seed):
    derived = _derived_screen(catalogue, seed)
    assert derived.params["decided_by"] == "display" and derived.params["signals"]["display"] >= 1.0


@pytest.mark.parametrize("seed", [1700, 1701, 1702])
def test_a_photographed_printed_card_shows_no_display_moire(catalogue, seed):
    img, reference = catalogue
    data, _ = synthetic.product_photo(img, np.random.default_rng(seed), TEXTURES, kind="card")
    report = screen_evidence(data, references=[reference], with_artifacts=False)
    assert report.verdict == "consistent" and report.finding("derived_from_reference") is None
    decoded = decode_image(data)
    gray = cv2.cvtColor(decoded.rgb, cv2.COLOR_RGB2GRAY)
    alignment = match_features(reference.features, extract_features(gray, limit=EVIDENCE_FEATURES))
    assert alignment is not None
    comparison = compare(decoded.rgb, reference.rgb, alignment.homography)
    assert comparison.evidence_rgb is not None and comparison.mapped_rgb is not None
    # Well below the limits, not just under them: the margin is what keeps prints safe.
    assert display_moire(comparison.evidence_rgb, comparison.mapped_rgb, comparison.valid) < 0.6 * _DISPLAY_LIMIT
    finer = decoded.finer_rgb()
    assert finer is not None and finer.shape[1] == 2 * decoded.rgb.shape[1]
    assert display_moire_fine(finer, reference.rgb, alignment.homography, comparison.valid) < 0.7 * _DISPLAY_FINE_LIMIT


# Screen pixels so small in the photograph that the fringes lie beyond the working plane:
# only the finer plane's luma shows them, a faint grating of sub-pixel stripes whose
# quarter-size parts at the border read as weakly as inside the picture.
@pytest.mark.parametrize("seed", [1711, 1720, 1728])
def test_a_screen_whose_fringes_only_the_finer_plane_resolves_is_called_a_screen(catalogue, seed):
    derived = _derived_screen(catalogue, seed)
    assert derived.params["decided_by"] == "display" and "screen" in derived.detail
    signals = derived.params["signals"]
    assert signals["display"] < 0.6 and signals["display_fine"] >= 1.0
    # Not by the edge tiles' quarter-size parts: by the fringes reaching the border at the
    # frequency of the tiles around them, on a catalogue picture without a lattice of its own.
    assert signals["display_edge"] < 1.0
    assert signals["display_reach"] >= 1.0 and signals["display_border"] >= 1.0 and signals["lattice"] < 1.0
    assert signals["frame"] >= 1.0  # picture at the reference's border: no device's bezel


def test_a_device_pictured_with_its_body_on_every_side_has_a_uniform_frame_and_a_picture_has_none(catalogue):
    import io

    from PIL import Image

    from bench import camera_path

    _, reference = catalogue
    assert display.reference_frame(reference.rgb) >= 1.5 * _FRAME_LIMIT
    for index in (3, 11):  # devices of source 3's tuning seed, filling their catalogue photos
        device = camera_path.make_product(7000, index)
        assert device.kind == "device"
        buf = io.BytesIO()
        Image.fromarray(device.image).save(buf, "JPEG", quality=92)
        assert display.reference_frame(analyse_reference(buf.getvalue()).rgb) < 0.5 * _FRAME_LIMIT


def test_a_plain_picture_has_no_lattice_of_its_own_and_a_meshed_or_pixelated_product_has():
    plain = synthetic.photo("chelsea")[40:360, 60:520]
    assert display.reference_lattice(plain) < _LATTICE_LIMIT
    assert display.reference_lattice(synthetic.photo("grass")) < 0.3 * _LATTICE_LIMIT
    for seed in (0, 25):  # a mesh of 6.7 px; pixels of 3 px
        product, kind = display_material._textured(plain, np.random.default_rng(seed))
        assert kind.startswith(("mesh", "pixels"))
        assert display.reference_lattice(product) >= 1.5 * _LATTICE_LIMIT


def test_a_mesh_re_photographed_whose_working_plane_beats_like_a_screen_goes_to_a_person_not_to_forged():
    # Source 3's tuning half (seed 7000, product 13): a mesh photographed tilted on a
    # cluttered table; its lattice beats with the sensor into fringes on the working plane
    # (2.7 times its limit), which alone once called it a photographed screen.
    import io

    from PIL import Image

    from bench import camera_path

    product = camera_path.make_product(7000, 13)
    buf = io.BytesIO()
    Image.fromarray(product.image).save(buf, "JPEG", quality=92)
    rng = np.random.default_rng([7000, 13, 2])
    rng.choice([i for i in range(camera_path.PRODUCTS_PER_HALF) if i != 13])  # the manifest's unrelated pick
    data, _, _, _ = camera_path.photograph(product, rng, "rephoto")
    report = screen_evidence(data, references=[analyse_reference(buf.getvalue())], with_artifacts=False)
    assert report.verdict == "consistent" and report.finding("derived_from_reference") is None
    resembles = report.finding("resembles_reference")
    assert resembles is not None and resembles.params["decided_by"] == "display_fine"
    signals = resembles.params["signals"]
    assert signals["display"] >= 1.0 and signals["lattice"] >= 1.0
    assert not signals.get("display_reach", 0.0) >= 1.0
    assert "moiré" in resembles.detail


# Source 3's tuning seed 9000: a woven label re-photographed, a flat mesh photographed mildly
# and a phone switched on that is the product. Each beats with the sensor into fringes on
# the working plane (3.3, 4.5 and 3.9 times its limit) that the finer plane finds reaching
# the reference's border without fading, as a screen's would; the weave, the mesh and the
# phone's own screen inside its body explain them, so a person looks and nobody is accused.
@pytest.mark.parametrize(
    "case", ["rephoto-woven-9000-30-0", "flat-mild-mesh-9000-13-0", "screen-product-device-9000-27-1"]
)
def test_a_woven_or_meshed_product_or_a_device_that_is_the_product_is_no_screen_however_its_fringes_reach(
    case: str, tmp_path
):
    from bench import camera_path

    index = int(case.split("-")[-2])
    task = (9000, index, str(tmp_path), camera_path.PRODUCTS_PER_HALF)
    camera_path.write_reference(task)
    (evidence,) = [c["evidence"] for c in camera_path._task(task) if c.get("name") == case]
    (reference,) = tmp_path.glob("ref-*.jpg")
    report = screen_evidence(
        Path(evidence).read_bytes(), references=[analyse_reference(reference.read_bytes())], with_artifacts=False
    )
    assert report.verdict == "consistent" and report.finding("derived_from_reference") is None
    resembles = report.finding("resembles_reference")
    assert resembles is not None and resembles.params["decided_by"] == "display_fine"
    signals = resembles.params["signals"]
    # The readings that once called it a screen: the working plane's fringes, and the finer
    # plane's reaching the border at one frequency without fading there.
    assert signals["display"] >= 1.0 and signals["display_reach"] >= 1.0 and signals["display_border"] >= 1.0
    assert signals["lattice"] >= 1.0


def test_the_references_own_lattice_is_no_moire_when_the_alignment_is_half_a_pixel_off():
    # A coloured lattice (a knitted pattern, a printed grid) in the reference leaves a
    # trace of itself in the residual of a slightly misregistered photograph.
    yy, xx = np.mgrid[0:256, 0:256].astype(np.float32)
    lattice = 0.5 + 0.2 * np.cos(2 * np.pi * (0.23 * xx + 0.05 * yy))
    reference = np.stack([lattice, np.full_like(lattice, 0.5), 1 - lattice], axis=2)
    shifted = cv2.warpAffine(reference, np.float32([[1, 0, 0.5], [0, 1, 0]]), (256, 256), borderMode=cv2.BORDER_REFLECT)
    rng = np.random.default_rng(0)
    evidence = shifted + rng.normal(0, 0.01, shifted.shape).astype(np.float32)
    valid = np.ones((256, 256), bool)
    assert display_moire(evidence, reference, valid) < 0.6 * _DISPLAY_LIMIT
    # The same lattice on a reference that has none is a narrow-band peak: what the
    # exclusion must not hide.
    plain = np.full_like(reference, 0.5)
    assert display_moire(evidence, plain, valid) >= _DISPLAY_LIMIT


def test_the_box_mean_matches_opencvs_reflected_blur():
    stack = np.random.default_rng(1).random((3, 64, 64)).astype(np.float32)
    for size in (3, 9):
        expected = np.stack([cv2.blur(s, (size, size), borderType=cv2.BORDER_REFLECT) for s in stack])
        np.testing.assert_allclose(_box(stack, size), expected, atol=1e-5)


def test_too_small_an_overlap_says_nothing():
    plane = np.zeros((200, 200, 3), np.float32)
    valid = np.zeros((200, 200), bool)
    valid[:90, :90] = True
    assert np.isnan(display_moire(plane, plane, valid))


# Honest photographs that carry periodic texture of their own: what a phone's pipeline
# (Bayer mosaic, demosaicing, sharpening, JPEG with 4:2:0 chroma) and the product's
# surface add. Built by bench/display_material.py, the display check's tuning material.
SCENE = [synthetic.photo(name) for name in ("brick", "grass", "gravel", "page")]


@pytest.mark.parametrize("seed", [0, 5, 6])
def test_an_honest_photograph_of_a_fine_textured_product_is_no_screen(seed):
    # The product's surface is its catalogue picture with a knit, mesh or weave finer than
    # the reference's working plane resolves; photographed flat, tilted 3-10 degrees, as a
    # 2000x1500 JPEG whose finer plane is a DCT draft of it.
    rng = np.random.default_rng(seed)
    product, _ = display_material._textured(synthetic.photo("chelsea")[40:360, 60:520], rng)
    out = (2000, 1500)
    H = display_material._tilted(
        product.shape[1], product.shape[0], out, rng, rng.uniform(3, 10), rng.uniform(0.6, 0.85)
    )
    linear = synthetic._to_linear(product.astype(np.float32))
    data, _ = display_material._photograph(linear, H, out, rng, SCENE)
    report = screen_evidence(data, references=[analyse_reference(synthetic.jpeg(product, 92))], with_artifacts=False)
    derived = report.finding("derived_from_reference")
    assert derived is None or derived.params["decided_by"] != "display"


@pytest.mark.parametrize("seed", [0, 1, 5, 7])
def test_a_phone_or_monitor_switched_on_as_the_product_is_no_screen_of_its_reference(seed):
    # The catalogue photo shows the device with its picture on; the buyer photographs the
    # device showing it: the screen's pixel grid beats with the camera's over the screen,
    # not over the bezel and backdrop that make the rest of the reference.
    rng = np.random.default_rng(seed)
    catalogue, data, _, _ = display_material.device_photo(
        synthetic.photo("coffee"), synthetic.photo("chelsea"), rng, SCENE
    )
    report = screen_evidence(data, references=[analyse_reference(synthetic.jpeg(catalogue, 92))], with_artifacts=False)
    derived = report.finding("derived_from_reference")
    assert derived is None or derived.params["decided_by"] != "display"


def test_the_jpeg_grid_of_a_file_larger_than_the_plane_is_mapped_onto_the_plane():
    # A 3000 px file read on a 1280 px plane: its 8 px blocks are 3.41 px there after the
    # half-size draft decode and the resize (0.293 cycle/px), their second harmonic
    # folds to 0.414; a 4032 px file's quarter-size draft keeps only the first.
    gx, gy = file_grid((3000, 2250), (1280, 960), 1280, periods=(8, 2))
    np.testing.assert_allclose(gx, [0.0, 0.29297, 0.41406], atol=1e-4)
    np.testing.assert_allclose(gy, gx, atol=1e-4)
    gx, _ = file_grid((4032, 3024), (1008, 756), 1280, periods=(8, 2))
    np.testing.assert_allclose(gx, [0.0, 0.5], atol=1e-4)


def _camera_path_case(seed: int, index: int, cls: str):
    """Return (reference analysis, evidence bytes) of a tuning-half product of the outside camera path, freshly drawn.

    `cls` is "evasive-screen" (a phone or monitor showing a forgery of the catalogue photo,
    letterboxed on its screen) or "screen-product" (the product is the device, switched on).
    """
    import io

    from PIL import Image

    from bench import camera_path

    product = camera_path.make_product(seed, index)
    buf = io.BytesIO()
    Image.fromarray(product.image).save(buf, "JPEG", quality=92)
    rng = np.random.default_rng([seed, index, 16])
    if cls == "evasive-screen":
        edited, mask = camera_path.forged(product, camera_path.DAMAGE_CYCLE[index % 6], rng)
        shown = camera_path.Product(
            f"screen-{product.name}", "device", *camera_path.device(rng, int(rng.integers(900, 1401)))
        )
        data, _, _, _ = camera_path.photograph(shown, rng, cls, content=edited, mask=mask)
    else:
        data, _, _, _ = camera_path.photograph(product, rng, cls)
    return analyse_reference(buf.getvalue()), data


def test_a_screen_showing_a_forgery_whose_fringes_reach_the_pictures_edge_is_derived_on_the_finer_plane():
    # The working plane shows no fringes (the screen's pixels are finer than it resolves);
    # the finer plane shows them over the whole picture, up to its border on every side.
    reference, data = _camera_path_case(7000, 0, "evasive-screen")
    derived = screen_evidence(data, references=[reference], with_artifacts=False).finding("derived_from_reference")
    assert derived is not None and derived.params["decided_by"] == "display"
    signals = derived.params["signals"]
    assert signals["display"] < 1.0 and signals["display_fine"] >= 1.0 and signals["display_edge"] >= 1.0
    assert signals["display_border"] >= 1.0
    assert "screen" in derived.detail


def test_a_phone_whose_screen_runs_off_the_photograph_is_no_screen_of_its_reference():
    # The photograph's frame cuts the phone's screen, so fringes reach that side of the
    # footprint; the bezel on the other sides, where the fringes fade, still tells the
    # device from a screen showing its picture: a person looks, nobody is accused.
    reference, data = _camera_path_case(8000, 35, "screen-product")
    report = screen_evidence(data, references=[reference], with_artifacts=False)
    assert report.finding("derived_from_reference") is None
    resembles = report.finding("resembles_reference")
    assert resembles is not None and resembles.params["decided_by"] == "display_fine"
    assert resembles.params["signals"]["display_border"] < 1.0


def test_fringes_that_fade_in_a_bezel_narrower_than_a_part_read_as_a_border_ratio_well_below_one():
    # A grating of 4.27 px over a 256 px square footprint; in the second, the outer 12 px are
    # a quiet bezel, half of it left after the footprint's erosion.
    size, f = 256, np.array([0.0, 15.0])  # bins of a 64 px tile: 15/64 cycle/px along x
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    grating = np.cos(2 * np.pi * (f[1] * xx) / 64).astype(np.float32)
    valid = np.zeros((size, size), bool)
    valid[20:236, 20:236] = True
    bezel = grating.copy()
    bezel[~np.pad(np.ones((204, 204), bool), 26)] = 0.0  # quiet up to 26 px: 6 px inside the footprint
    centres = np.array([[52, 52], [128, 52], [52, 128]])
    freq = np.tile(f, (3, 1))
    assert np.all(display._border_ratio(grating, valid, centres, freq) > 0.8)
    assert np.all(display._border_ratio(bezel, valid, centres, freq) < 0.52)
