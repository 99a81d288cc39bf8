"""The dossier's PDF summary: the same pages in Chinese, then in English.

reportlab's built-in CID font STSong-Light draws the Chinese without shipping a font file.
The document is made in reportlab's invariant mode (no creation time, no random id), so the
only thing that differs between two summaries of one application is the generation time
printed on them.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from refunds.models import RefundApplication
from refunds.selectors import THROUGH_GROUP
from refunds.states import ActorKind, ApplicationState, DecisionReason, Outcome, RebuttalReason, RefundReason, RiskLevel
from refunds.vocab import AuditAction
from screening.messages import explain
from screening.models import ReuseLink, ScreeningResult

if TYPE_CHECKING:
    from refunds.services._base import Actor
    from refunds.services.dossier_contents import DossierContents, DossierFile

CJK_FONT = "STSong-Light"
MONO_FONT = "Courier"
pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def _styles(language: str) -> dict[str, ParagraphStyle]:
    chinese = language.startswith("zh")
    # The body is in the CJK font in both languages: a merchant's statement or a note may be
    # Chinese whatever the page's language, and the font has Latin letters too.
    font = CJK_FONT
    bold = CJK_FONT if chinese else "Helvetica-Bold"
    wrap = "CJK" if chinese else None
    return {
        "title": ParagraphStyle("title", fontName=bold, fontSize=16, leading=22, spaceAfter=6, wordWrap=wrap),
        "h2": ParagraphStyle("h2", fontName=bold, fontSize=12, leading=16, spaceBefore=10, spaceAfter=4, wordWrap=wrap),
        "body": ParagraphStyle("body", fontName=font, fontSize=9, leading=13, wordWrap=wrap),
        "cell": ParagraphStyle("cell", fontName=font, fontSize=8, leading=11, wordWrap=wrap),
        "mono": ParagraphStyle("mono", fontName=MONO_FONT, fontSize=6, leading=8, wordWrap="CJK"),
    }


def _label(choices: Any, value: str | None) -> str:
    return str(dict(choices.choices).get(value, value or "—"))


def _when(moment: datetime | str | None) -> str:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"


def _amounts(totals: dict[str, str]) -> str:
    return ", ".join(f"{amount} {currency}" for currency, amount in totals.items()) or "0"


def _relation(relation: str) -> str:
    if relation == THROUGH_GROUP:
        return _("through other linked claims")
    return _label(ReuseLink.Kind, relation)


class _Page:
    """The story of one language's pages."""

    def __init__(self, language: str) -> None:
        self.styles = _styles(language)
        self.story: list[Any] = []

    def p(self, text: str, style: str = "body") -> Paragraph:
        return Paragraph(escape(str(text)).replace("\n", "<br/>"), self.styles[style])

    def heading(self, text: str, style: str = "h2") -> None:
        self.story.append(self.p(text, style))

    def text(self, text: str) -> None:
        self.story.append(self.p(text))

    def fields(self, rows: list[tuple[str, object]]) -> None:
        self.table([[label, value] for label, value in rows], widths=[45 * mm, 125 * mm], header=False)

    def table(
        self, rows: Sequence[Sequence[object]], *, widths: list[float], header: bool = True, mono: int | None = None
    ) -> None:
        cells = [
            [
                self.p(str(value), "mono" if column == mono and (row or not header) else "cell")
                for column, value in enumerate(values)
            ]
            for row, values in enumerate(rows)
        ]
        table = Table(cells, colWidths=widths, repeatRows=1 if header else 0)
        style = [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")))
        else:
            style.append(("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2")))
        table.setStyle(TableStyle(style))
        self.story.append(table)


def _language_pages(
    language: str,
    *,
    application: RefundApplication,
    contents: DossierContents,
    files: list[DossierFile],
    generated_at: datetime,
    actor: Actor,
) -> list[Any]:
    page = _Page(language)
    data = contents.application
    page.heading(_("Evidence dossier"), "title")
    page.fields(
        [
            (_("Application"), data["id"]),
            (_("Generated at"), _when(generated_at)),
            (_("Generated for"), f"{_label(ActorKind, actor.kind)}: {actor.label}"),
        ]
    )

    page.heading(_("Application"))
    page.fields(
        [
            (_("Platform"), data["platform"]),
            (_("Merchant"), data["merchant"]["name"]),
            (_("Product"), f"{data['product']['title']} ({data['product']['external_ref']})"),
            (_("Buyer reference"), data["buyer_ref"]),
            (_("Order reference"), data["order_ref"]),
            (_("Amount claimed"), f"{data['amount']} {data['currency']}"),
            (_("Reason"), _label(RefundReason, data["reason_code"])),
            (_("Buyer's description"), data["description"] or "—"),
            (_("Delivered at"), _when(data["delivered_at"])),
            (_("Submitted at"), _when(data["submitted_at"])),
            (_("State"), _label(ApplicationState, data["state"])),
            (
                _("Risk"),
                f"{_label(RiskLevel, data['risk_level'])}"
                + (f" ({data['risk_score']:.2f})" if data["risk_score"] is not None else ""),
            ),
        ]
    )

    decision = data["decision"]
    page.heading(_("Decision"))
    page.fields(
        [
            (_("Outcome"), _label(Outcome, decision["outcome"])),
            (_("Amount refunded"), f"{decision['approved_amount']} {decision['currency']}"),
            (_("Decided by"), _label(ActorKind, decision["actor_kind"])),
            (_("Decided at"), _when(decision["decided_at"])),
            (_("Reasons"), "; ".join(_label(DecisionReason, code) for code in decision["reason_codes"]) or "—"),
            (_("Note"), decision["note"] or "—"),
        ]
    )

    rebuttal = data["rebuttal"]
    if rebuttal is not None:
        page.heading(_("The merchant's rebuttal"))
        page.fields(
            [
                (_("Statement"), rebuttal["statement"]),
                (_("Reasons"), "; ".join(_label(RebuttalReason, code) for code in rebuttal["reason_codes"]) or "—"),
                (_("Submitted at"), _when(rebuttal["submitted_at"])),
                (_("Attachments"), "\n".join(item["file"] for item in rebuttal["attachments"]) or "—"),
            ]
        )

    page.heading(_("Screening findings"))
    for number, item in enumerate(contents.screening, start=1):
        result = item["result"]
        if result is None:
            page.text(_("Evidence %(number)d (%(file)s): not screened.") % {"number": number, "file": item["file"]})
            continue
        reference = result["matched_reference"]
        page.text(
            _(
                "Evidence %(number)d (%(file)s): %(verdict)s, risk %(risk).2f; engine %(engine)s; "
                "matched reference: %(reference)s."
            )
            % {
                "number": number,
                "file": item["file"],
                "verdict": _label(ScreeningResult.Verdict, result["verdict"]),
                "risk": result["risk"],
                "engine": result["engine_version"],
                "reference": reference["file"] if reference else "—",
            }
        )
        rows = [[_("Code"), _("Score"), _("Detail")]]
        # The explanation in the page's language, from the finding's parameters; the engine's
        # own words are in screening.json.
        rows += [
            [
                finding["code"],
                f"{finding['score']:.2f}",
                explain(finding["code"], finding["params"], fallback=finding["detail"])
                + (f"\n{_('Heat-map')}: {finding['heatmap']}" if finding["heatmap"] else ""),
            ]
            for finding in result["findings"]
        ]
        if len(rows) == 1:
            rows.append(["—", "", _("no findings")])
        page.table(rows, widths=[40 * mm, 14 * mm, 116 * mm])
        page.story.append(Spacer(1, 2 * mm))

    page.heading(_("Linked claims"))
    linked = contents.linked
    if linked.get("claimed"):
        page.text(
            _(
                "Group %(group)s: %(claimed)s claimed, %(refunded)s refunded over all its applications, this one "
                "included."
            )
            % {
                "group": linked["group"],
                "claimed": _amounts(linked["claimed"]),
                "refunded": _amounts(linked["refunded"]),
            }
        )
    if linked["claims"]:
        rows = [[_("Application"), _("Relation"), _("State"), _("Outcome"), _("Amount")]]
        rows += [
            [
                claim["id"],
                _relation(claim["relation"]),
                _label(ApplicationState, claim["state"]),
                _label(Outcome, claim["outcome"]),
                f"{claim['amount']} {claim['currency']}",
            ]
            for claim in linked["claims"]
        ]
        page.table(rows, widths=[58 * mm, 25 * mm, 30 * mm, 30 * mm, 27 * mm])
    else:
        page.text(_("No other application shares an image with this one."))
    if linked.get("in_other_shops"):
        page.text(
            _("Applications to other shops sharing an image with this one: %(count)d.")
            % {"count": linked["in_other_shops"]}
        )

    page.heading(_("Timeline"))
    rows = [[_("#"), _("Time"), _("Action"), _("From → to"), _("Actor")]]
    rows += [
        [
            str(event["seq"]),
            _when(event["at"]),
            _label(AuditAction, event["action"]),
            f"{_label(ApplicationState, event['from_state'])} → {_label(ApplicationState, event['to_state'])}",
            _label(ActorKind, event["actor_kind"]),
        ]
        for event in contents.chain["events"]
    ]
    page.table(rows, widths=[8 * mm, 40 * mm, 40 * mm, 52 * mm, 30 * mm])
    page.text(
        _("Audit chain: %(count)d events, last hash %(head)s.")
        % {"count": contents.chain["count"], "head": contents.chain["head"]}
    )

    page.heading(_("Files"))
    rows = [[_("File"), _("Size (bytes)"), _("SHA-256")]]
    rows += [[entry.path, str(entry.size), entry.sha256] for entry in sorted(files, key=lambda f: f.path)]
    page.table(rows, widths=[62 * mm, 20 * mm, 88 * mm], mono=2)
    page.text(
        _(
            "The summary itself is listed with its SHA-256 in SHA256SUMS. Run verify.py to check every file "
            "and the audit chain."
        )
    )
    return page.story


def dossier_summary_pdf(
    *,
    application: RefundApplication,
    contents: DossierContents,
    files: list[DossierFile],
    generated_at: datetime,
    actor: Actor,
) -> bytes:
    """Return the summary PDF: the Chinese pages, then the English ones."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"Evidence dossier / 证据档案 {application.public_id}",
        author="reviewhub",
        invariant=1,
    )
    story: list[Any] = []
    for index, language in enumerate(("zh-hans", "en")):
        if index:
            story.append(PageBreak())
        with translation.override(language):
            story += _language_pages(
                language,
                application=application,
                contents=contents,
                files=files,
                generated_at=generated_at,
                actor=actor,
            )
        story.append(Spacer(1, 4 * mm))
    document.build(story)
    return buffer.getvalue()
