"""Findings explained in the reader's language, from the parameters the engine reports.

The engine (``screening.core``) writes English details and imports nothing from Django; the
admin, portal and API show these translated sentences instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from screening.core import FindingCode, ReuseKind, ViewPairVerdict

# Each finding's short name, the one every surface shows (the admin's filter and findings
# table, the portal's technical details); a test checks that every code has one.
LABELS = {
    FindingCode.DERIVED_FROM_REFERENCE: gettext_lazy("Derived from a reference image"),
    FindingCode.RESEMBLES_REFERENCE: gettext_lazy("Resembles a reference image"),
    FindingCode.LOCAL_EDIT: gettext_lazy("Local edits"),
    FindingCode.NEAR_DUPLICATE: gettext_lazy("Reused image"),
    FindingCode.AIGC_LABEL: gettext_lazy("AI-generated label"),
    FindingCode.C2PA_AI_GENERATED: gettext_lazy("C2PA: AI-generated"),
    FindingCode.EDITING_SOFTWARE: gettext_lazy("Editing software"),
    FindingCode.MALFORMED_METADATA: gettext_lazy("Damaged metadata"),
    FindingCode.NO_CAMERA_METADATA: gettext_lazy("No camera metadata"),
    FindingCode.CAPTURED_BEFORE_DELIVERY: gettext_lazy("Taken before delivery"),
    FindingCode.UNREADABLE: gettext_lazy("Unreadable"),
    FindingCode.SECOND_VIEW_INCONSISTENT: gettext_lazy("Second view inconsistent"),
}


def label(code: str) -> str:
    """Return the finding's short name in the active language (an unknown code as itself)."""
    return str(LABELS.get(code, code))


def _derived(p: dict[str, Any]) -> str:
    if p.get("decided_by") == "display":
        return _(
            "The image is a photograph of a screen showing a reference image: the aligned area carries the "
            "moiré of a display's pixel grid, which neither a print nor the product itself has."
        )
    return _(
        "The image is a transformed copy of a reference image: %(share)s of the overlapping area matches it "
        "pixel for pixel after alignment."
    ) % {"share": f"{p.get('explained', 0):.0%}"}


def _resembles(p: dict[str, Any]) -> str:
    # Said as a resemblance, not an accusation: the reader must not take it for a copy.
    if p.get("decided_by") == "display_fine":
        return _(
            "The image resembles a reference image and shows fine fringes like the moiré of a photographed "
            "screen; a product's own fine weave, mesh or knit makes the same fringes, so a person should compare "
            "the two."
        )
    if p.get("decided_by") == "on_a_table" and "foreshortened" in p.get("signals", {}):
        return _(
            "The image resembles a reference image, but the product fills only %(share)s of the picture and is "
            "seen at an angle: a new photograph of a flat product lying on a table looks like this; a person "
            "should compare the two."
        ) % {"share": f"{1 - p.get('signals', {}).get('surround', 0):.0%}"}
    if p.get("decided_by") == "on_a_table":
        return _(
            "The image resembles a reference image, but the product fills only %(share)s of the picture and "
            "light falls across it unevenly: a new photograph of a flat product lying on a table looks like this; "
            "a person should compare the two."
        ) % {"share": f"{1 - p.get('signals', {}).get('surround', 0):.0%}"}
    return _(
        "The image resembles a reference image, but one alignment explains only %(share)s of the overlapping "
        "area pixel for pixel: a new photograph of a flat product (a card or print of the picture, bent, tilted "
        "or relit) looks like this; a person should compare the two."
    ) % {"share": f"{p.get('explained', 0):.0%}"}


def _local_edit(p: dict[str, Any]) -> str:
    return _(
        "%(count)s region(s) covering %(share)s of the image differ from the reference beyond what the "
        "global transform explains: painted-in damage looks like this."
    ) % {"count": p.get("regions", 0), "share": f"{p.get('area_fraction', 0):.1%}"}


def _aigc(p: dict[str, Any]) -> str:
    return _("The image carries an implicit AI-generated content label (GB 45438-2025) from producer %(producer)s.") % {
        "producer": p.get("producer") or _("unknown")
    }


def _c2pa(p: dict[str, Any]) -> str:
    return _("A C2PA manifest declares the image AI-generated (%(types)s).") % {
        "types": ", ".join(p.get("source_types", []))
    }


def _software(p: dict[str, Any]) -> str:
    template = (
        _("Metadata names image-generating software: %(names)s.")
        if p.get("generator")
        else _("Metadata names image-editing software: %(names)s.")
    )
    return template % {"names": ", ".join(p.get("software", []))}


def _malformed_metadata(p: dict[str, Any]) -> str:
    # The engine's own sentences name offsets and tags in English; the reviewer needs the
    # conclusion in their language, and finds the technical detail beside it.
    return _(
        "The image's metadata is structurally damaged (%(count)s problem(s) found); cameras and phones do not "
        "write such files, so a person should examine it."
    ) % {"count": len(p.get("problems", [])) or 1}


def _no_camera(p: dict[str, Any]) -> str:
    return _("The image has no camera make, model or capture time (normal for screenshots and messaging apps).")


def _before_delivery(p: dict[str, Any]) -> str:
    return _("The photo was taken %(hours)s hours before the item was delivered.") % {
        "hours": p.get("hours_before", "?")
    }


def _near_duplicate(p: dict[str, Any]) -> str:
    if p.get("other_platform"):
        return _(
            "The image matches one used on another platform on %(first_seen)s (%(distance)s of 64 hash bits differ)."
        ) % {"first_seen": p.get("first_seen", "?"), "distance": p.get("distance", 0)}
    values = {"application": p.get("application", "?"), "distance": p.get("distance", 0)}
    kind = p.get("kind")
    if kind == ReuseKind.SAME_FILE:
        return _("The image is the very file submitted with earlier application %(application)s.") % values
    if kind == ReuseKind.EDITED:
        return (
            _(
                "The image is the picture submitted with earlier application %(application)s, with local changes at "
                "the boxed places: a reused photo that was edited."
            )
            % values
        )
    if kind == ReuseKind.RE_ENCODED and p.get("points"):
        return _(
            "The image is the picture submitted with earlier application %(application)s, cropped, turned or framed "
            "(%(points)s points agree on one geometric transform)."
        ) % {**values, "points": p["points"]}
    if kind == ReuseKind.RE_ENCODED:
        return (
            _(
                "The image is the picture submitted with earlier application %(application)s, re-encoded, resized or "
                "cropped (%(distance)s of 64 hash bits differ)."
            )
            % values
        )
    return (
        _(
            "The image matches one submitted with earlier application %(application)s (%(distance)s of 64 hash bits "
            "differ)."
        )
        % values
    )


def _unreadable(p: dict[str, Any]) -> str:
    return _("The image cannot be screened: %(message)s.") % {"message": p.get("message") or p.get("reason", "")}


EXPLAINERS: dict[str, Callable[[dict[str, Any]], str]] = {
    FindingCode.DERIVED_FROM_REFERENCE: _derived,
    FindingCode.RESEMBLES_REFERENCE: _resembles,
    FindingCode.LOCAL_EDIT: _local_edit,
    FindingCode.AIGC_LABEL: _aigc,
    FindingCode.C2PA_AI_GENERATED: _c2pa,
    FindingCode.EDITING_SOFTWARE: _software,
    FindingCode.MALFORMED_METADATA: _malformed_metadata,
    FindingCode.NO_CAMERA_METADATA: _no_camera,
    FindingCode.CAPTURED_BEFORE_DELIVERY: _before_delivery,
    FindingCode.NEAR_DUPLICATE: _near_duplicate,
    FindingCode.UNREADABLE: _unreadable,
    # The two-view check's words (below), from the result stored as the finding's parameters.
    FindingCode.SECOND_VIEW_INCONSISTENT: lambda p: view_pair_words(p),
}


# What a merchant reads of each finding, in a shop owner's words (the portal shows the
# explanation above as the technical detail); a test checks that every code has them.
_MERCHANT_WORDS = {
    FindingCode.DERIVED_FROM_REFERENCE: lambda: _(
        "This photo is one of your reference photos, transformed (cropped, resized, recoloured or re-saved)."
    ),
    FindingCode.RESEMBLES_REFERENCE: lambda: _(
        "This photo resembles one of your reference photos but is not shown to be a copy of it: a new photograph "
        "of a flat or finely woven product can look like this, so a reviewer will compare them."
    ),
    FindingCode.LOCAL_EDIT: lambda: _("The marked area was changed: compare the heat-map with your photo."),
    FindingCode.NEAR_DUPLICATE: lambda: _("This photo matches one already sent with an earlier refund claim."),
    FindingCode.AIGC_LABEL: lambda: _("The photo is labelled as generated by AI."),
    FindingCode.C2PA_AI_GENERATED: lambda: _("The photo is labelled as generated by AI."),
    FindingCode.EDITING_SOFTWARE: lambda: _("The photo was processed with editing or image-generating software."),
    FindingCode.CAPTURED_BEFORE_DELIVERY: lambda: _("The photo was taken before the item was delivered."),
    FindingCode.NO_CAMERA_METADATA: lambda: _("The photo carries no camera information (common for screenshots)."),
    FindingCode.MALFORMED_METADATA: lambda: _("The photo's metadata is damaged; a reviewer will look at it."),
    FindingCode.UNREADABLE: lambda: _("The photo could not be checked automatically; a reviewer will look at it."),
    FindingCode.SECOND_VIEW_INCONSISTENT: lambda: _(
        "The second photo, asked for from another angle, does not show the damage as a real item would; "
        "a reviewer will compare the two."
    ),
}

# What was reused, in the merchant's words: a painted-crack photo hashes as close to its
# source as a re-saved copy does, and "the same photo" would hide the edit.
_REUSE_WORDS = {
    ReuseKind.SAME_FILE: lambda: _("The very same photo file was already sent with an earlier refund claim."),
    ReuseKind.RE_ENCODED: lambda: _(
        "The same photo was already sent with an earlier refund claim (saved again, resized or cropped)."
    ),
    ReuseKind.EDITED: lambda: _(
        "A photo from an earlier refund claim was sent again with changes at the marked places."
    ),
}


def merchant_words(code: str, params: dict[str, Any]) -> str | None:
    """Return what a merchant reads of the finding, in the active language, or None for an unknown code."""
    if code == FindingCode.NEAR_DUPLICATE and params.get("kind") in _REUSE_WORDS:
        return _REUSE_WORDS[params["kind"]]()
    words = _MERCHANT_WORDS.get(code)
    return words() if words is not None else None


def explain(code: str, params: dict[str, Any], *, fallback: str) -> str:
    """Return the finding's explanation in the active language, or the engine's detail for an unknown code."""
    explainer = EXPLAINERS.get(code)
    if explainer is None:
        return fallback
    try:
        return explainer(params or {})
    except (TypeError, ValueError, KeyError):
        return fallback


# The two-view check (screening.core.viewpair) in the reader's words, by verdict; the engine's
# own explanation is English and carries the numbers, shown beside these as the detail.
VIEW_PAIR_WORDS = {
    ViewPairVerdict.CONSISTENT_3D: gettext_lazy(
        "The two photos show a real item from two viewpoints: its parts move against each other between the "
        "photos as only a three-dimensional object's do."
    ),
    ViewPairVerdict.FLAT: gettext_lazy(
        "The two photos look like one flat picture seen twice (a print, a screen or a warped copy): one "
        "perspective change explains both. A flat item photographed close up looks the same, so compare them."
    ),
    ViewPairVerdict.UNRELATED: gettext_lazy("The two photos do not show the same item or scene."),
    ViewPairVerdict.UNREADABLE: gettext_lazy(
        "The two photos could not be compared automatically (a file cannot be read or shows too little detail)."
    ),
}
# Whether the damage boxed in the first photo is at the same place in the second.
DAMAGE_IN_BOTH_WORDS = {
    True: gettext_lazy("The damage appears in both photos at the same place."),
    False: gettext_lazy("The damage marked in the first photo is not there in the second."),
}


def view_pair_words(result: dict[str, Any]) -> str:
    """Return the two-view check's result (ViewPairResult.as_dict()) in the active language.

    An unknown verdict (a record stored by a later engine) gives the engine's English explanation.
    """
    words = VIEW_PAIR_WORDS.get(result.get("verdict"))
    if words is None:
        return str(result.get("explanation", ""))
    damage = DAMAGE_IN_BOTH_WORDS.get(result.get("damage_in_both"))
    return f"{words} {damage}" if damage is not None else str(words)
