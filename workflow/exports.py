"""Printable exports of a statement: the MG11 witness statement and the missing-person report.

Both are A4 PDFs drawn with fpdf2's core fonts. The statement content is the contract JSON of
`shared/statement-fields.md` (template, statement_date, fields, persons, ..., narrative, flags).

The MG11 declaration states how many pages the statement has, and the witness accepts it before
the final PDF exists. So the layout is built to make the page count a function of the content
alone: everything that differs between the draft and the confirmed render (page count digits,
officer, time, place, signature image, hashes) is drawn inside boxes of fixed size, and only the
narrative and the content's own tables flow. `page_count` renders the draft and counts; the
confirmed render checks that it really has the number of pages its declaration states.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from io import BytesIO
from typing import Any

from fpdf import FPDF
from fpdf.enums import MethodReturnValue, TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace

MG11_DECLARATION_TEMPLATE = (
    "This statement (consisting of {pages} each signed by me) is true to the best of my "
    "knowledge and belief and I make it knowing that, if it is tendered in evidence, I shall be "
    "liable to prosecution if I have wilfully stated anything in it which I know to be false, "
    "or do not believe to be true."
)

NOT_STATED = "not stated"

# A4 in millimetres, and where the fixed parts of the page sit.
_PAGE_W = 210.0
_PAGE_H = 297.0
_MARGIN = 15.0
_TEXT_W = _PAGE_W - 2 * _MARGIN
_FONT = "Helvetica"
# The footer is drawn bottom-up from here; its parts have fixed heights so that nothing in it
# (officer, place, hashes) can change where the body text breaks.
_SMALL_PRINT_LINES = 3
_SMALL_PRINT_LH = 2.6
_SMALL_PRINT_TOP = _PAGE_H - 8.0 - _SMALL_PRINT_LINES * _SMALL_PRINT_LH
_PROVENANCE_H = 9.6
_PROVENANCE_TOP = _SMALL_PRINT_TOP - 1.0 - _PROVENANCE_H
_SIG_ROW_H = 11.0
_SIG_ROW_TOP = _PROVENANCE_TOP - 1.5 - _SIG_ROW_H
# Body text stops above the footer: the MG11 footer carries the signature row on every page.
_BODY_BOTTOM = {"mg11": _SIG_ROW_TOP - 3.0, "missing_person": _PROVENANCE_TOP - 6.0}
_BODY_LH = 5.2
_BODY_SIZE = 10.5

# Characters Helvetica (latin-1) lacks but which have an obvious plain form; anything else that
# does not survive NFKD-to-latin-1 becomes "?" rather than crashing the export.
_REPLACEMENTS = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u2026": "...",
        "\u2022": "-",
        "\u00ad": "",
        "\u200b": "",
        "\ufeff": "",
        "\u20ac": "EUR",
        "\t": " ",
    }
)


def mg11_declaration(page_count: int) -> str:
    """The s.9 declaration as printed on the MG11, stating the statement's page count."""
    if page_count < 1:
        raise ValueError(f"a statement has at least one page, not {page_count}")
    pages = "1 page" if page_count == 1 else f"{page_count} pages"
    return MG11_DECLARATION_TEMPLATE.format(pages=pages)


@dataclass(frozen=True)
class ConfirmationInfo:
    """What the officer and witness confirmed: printed on every page of the confirmed export."""

    officer: str
    confirmed_at: datetime
    place: str | None
    page_count: int
    declaration: str
    content_sha256: str
    signature_png: bytes | None = None


@dataclass(frozen=True)
class ExportDocument:
    """One statement as the exports see it: the contract content plus its record."""

    statement_id: str
    content: dict[str, Any]
    officer: str
    audio_sha256: str
    status: str
    confirmation: ConfirmationInfo | None = None


def _utc(moment: datetime) -> datetime:
    # The tables store aware UTC; a naive value is taken to be UTC already rather than local.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _utc_text(moment: datetime) -> str:
    return f"{_utc(moment):%Y-%m-%d %H:%M} UTC"


def provenance_note(doc: ExportDocument) -> str:
    """How the text came to be: every export carries this, so no reader mistakes a machine draft
    for a confirmed statement."""
    c = doc.confirmation
    if c is None:
        return (
            "DRAFT – machine transcription, not yet reviewed and confirmed by an officer. "
            "Not for use as evidence."
        )
    where = f" at {c.place}" if c.place else ""
    return (
        "Drafted by machine transcription (speech recognition) of the witness's recorded "
        f"account, then reviewed and confirmed with the witness by {c.officer} at "
        f"{_utc_text(c.confirmed_at)}{where}."
    )


def _latin1(text: str) -> str:
    """Text Helvetica can draw: typographic punctuation made plain, accents kept where latin-1
    has them, anything else (emoji, CJK) shown as "?"."""
    out: list[str] = []
    for ch in text.replace("\r\n", "\n").replace("\r", "\n").translate(_REPLACEMENTS):
        code = ord(ch)
        if ch == "\n" or 0x20 <= code < 0x7F or 0xA0 <= code <= 0xFF:
            out.append(ch)
        elif code < 0x20 or 0x7F <= code < 0xA0:
            continue  # control characters have no glyph and mean nothing on paper
        else:
            plain = unicodedata.normalize("NFKD", ch)
            plain = "".join(p for p in plain if not unicodedata.combining(p))
            try:
                plain.encode("latin-1")
            except UnicodeEncodeError:
                plain = "?"
            out.append(plain or "?")
    return "".join(out)


def _field(content: dict[str, Any], name: str) -> str | None:
    """The field's (or template detail's: "over 18", a description) normalised value as text, or
    None when the statement does not have it."""
    entry = (content.get("fields") or {}).get(name) or (content.get("details") or {}).get(name)
    if not isinstance(entry, dict):
        return None
    value = entry.get("value")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return str(value)


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _iso_date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def age_if_under_18(content: dict[str, Any]) -> str:
    """The MG11 "Age if under 18" entry: the age when under 18, "Over 18" otherwise, blank when
    unknown. An absent age is worked out from a stated date of birth, never guessed; a witness
    who said only that they are over 18 is "Over 18"."""
    age = _int(_field(content, "witness.age"))
    if age is None:
        born = _iso_date(_field(content, "witness.date_of_birth"))
        on = _iso_date(content.get("statement_date"))
        if born is not None and on is not None and born <= on:
            age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    if age is None:
        return "Over 18" if _field(content, "witness.over_18") else ""
    return str(age) if age < 18 else "Over 18"


@dataclass(frozen=True)
class _Layout:
    """What the header and footer of every page need; fixed for one render."""

    template: str
    continuation: str
    total_pages: int | None
    provenance: str
    small_print: tuple[str, ...]
    signature_png: bytes | None


class _StatementPDF(FPDF):
    def __init__(self, layout: _Layout) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.layout = layout
        self.set_margins(_MARGIN, 10.0, _MARGIN)
        self.set_auto_page_break(True, margin=_PAGE_H - _BODY_BOTTOM[layout.template])
        self.set_creator("voice-statement")
        self.set_font(_FONT, "", _BODY_SIZE)

    @contextmanager
    def font(self, size: float, style: str = "") -> Iterator[None]:
        before = (self.font_style, self.font_size_pt)
        self.set_font(_FONT, style, size)
        try:
            yield
        finally:
            self.set_font(_FONT, before[0], before[1])

    def fit_line(self, text: str, width: float) -> str:
        """The text cut to one line of the given width (with "..."), for fixed-size slots."""
        text = _latin1(text).replace("\n", " ")
        if self.get_string_width(text) <= width:
            return text
        while text and self.get_string_width(text + "...") > width:
            text = text[:-1]
        return text + "..."

    def text_box(self, text: str, x: float, y: float, w: float, h: float, size: float) -> None:
        """Draw wrapped text inside a fixed box, shrinking the type until it fits, so the box's
        content never moves what comes after it."""
        text = _latin1(text)
        lines: list[str] = []
        while True:
            lh = size * 0.3528 * 1.25
            self.set_font(_FONT, "", size)
            wrapped = self.multi_cell(w, lh, text, dry_run=True, output=MethodReturnValue.LINES)
            assert isinstance(wrapped, list)  # output=LINES alone returns just the lines
            lines = wrapped
            if len(lines) * lh <= h or size <= 5.0:
                break
            size -= 0.5
        fit = max(1, int(h // lh))
        if len(lines) > fit:  # only for absurdly long input: cut rather than overflow the box
            lines = [*lines[: fit - 1], self.fit_line(" ".join(lines[fit - 1 :]), w)]
        for i, line in enumerate(lines):
            self.set_xy(x, y + i * lh)
            self.cell(w, lh, line)

    def signature_box(self, x: float, y: float, w: float, h: float) -> None:
        self.rect(x, y, w, h)
        png = self.layout.signature_png
        if png is not None:
            try:
                self.image(BytesIO(png), x=x + 1, y=y + 1, w=w - 2, h=h - 2, keep_aspect_ratio=True)
            except OSError as exc:  # Pillow's "cannot identify image file" among them
                raise ValueError("the signature is not a readable image") from exc

    def header(self) -> None:
        with self.font(8, "B"):
            self.set_xy(_MARGIN, 8.0)
            self.cell(_TEXT_W, 4.0, "RESTRICTED (when complete)", align="C")
        if self.layout.template == "mg11":
            with self.font(11, "B"):
                self.set_xy(_MARGIN, 7.5)
                label = "MG 11" if self.page_no() == 1 else "MG 11 (cont.)"
                self.cell(_TEXT_W, 5.0, label, align="R")
        if self.page_no() > 1:
            with self.font(9):
                self.set_xy(_MARGIN, 14.0)
                self.cell(_TEXT_W, 5.0, self.fit_line(self.layout.continuation, _TEXT_W))
            self.line(_MARGIN, 20.0, _PAGE_W - _MARGIN, 20.0)
            self.set_xy(_MARGIN, 23.0)

    def footer(self) -> None:
        total = str(self.layout.total_pages) if self.layout.total_pages else "?"
        page_text = f"Page {self.page_no()} of {total}"
        if self.layout.template == "mg11":
            self.line(_MARGIN, _SIG_ROW_TOP - 1.5, _PAGE_W - _MARGIN, _SIG_ROW_TOP - 1.5)
            with self.font(8):
                x = _MARGIN
                self.set_xy(x, _SIG_ROW_TOP)
                self.cell(16.0, 5.0, "Signature:")
                self.signature_box(x + 16.0, _SIG_ROW_TOP, 48.0, _SIG_ROW_H)
                x += 16.0 + 48.0 + 3.0
                self.set_xy(x, _SIG_ROW_TOP)
                self.cell(34.0, 5.0, "Signature witnessed by:")
                self.rect(x + 34.0, _SIG_ROW_TOP, 48.0, _SIG_ROW_H)
            with self.font(9, "B"):
                self.set_xy(_MARGIN, _SIG_ROW_TOP + _SIG_ROW_H - 5.0)
                self.cell(_TEXT_W, 5.0, page_text, align="R")
        else:
            self.line(_MARGIN, _PROVENANCE_TOP - 4.0, _PAGE_W - _MARGIN, _PROVENANCE_TOP - 4.0)
            with self.font(9, "B"):
                self.set_xy(_MARGIN, _PROVENANCE_TOP - 3.5)
                self.cell(_TEXT_W, 3.5, page_text, align="R")
        self.text_box(
            self.layout.provenance, _MARGIN, _PROVENANCE_TOP, _TEXT_W, _PROVENANCE_H, size=7.5
        )
        with self.font(6):
            for i, line in enumerate(self.layout.small_print[:_SMALL_PRINT_LINES]):
                self.set_xy(_MARGIN, _SMALL_PRINT_TOP + i * _SMALL_PRINT_LH)
                self.cell(_TEXT_W, _SMALL_PRINT_LH, self.fit_line(line, _TEXT_W))


def _labelled_line(pdf: _StatementPDF, label: str, value: str, x: float, w: float) -> None:
    """ "Label: value" with the value on a ruled line, blank when there is no value."""
    y = pdf.get_y()
    with pdf.font(10, "B"):
        label_w = pdf.get_string_width(label) + 2.0
        pdf.set_xy(x, y)
        pdf.cell(label_w, 6.0, label)
    with pdf.font(10):
        pdf.cell(w - label_w, 6.0, pdf.fit_line(value, w - label_w - 2.0), border="B")
    pdf.set_xy(_MARGIN, y)


def _narrative(pdf: _StatementPDF, content: dict[str, Any], empty: str) -> None:
    text = str(content.get("narrative") or "").strip()
    with pdf.font(_BODY_SIZE):
        pdf.multi_cell(
            0, _BODY_LH, _latin1(text) or empty, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L"
        )


def _draw_mg11(pdf: _StatementPDF, doc: ExportDocument, declaration: str) -> None:
    content = doc.content
    c = doc.confirmation
    pdf.add_page()
    with pdf.font(14, "B"):
        pdf.set_xy(_MARGIN, 15.0)
        pdf.cell(_TEXT_W, 7.0, "WITNESS STATEMENT", align="C")
    with pdf.font(8):
        pdf.set_xy(_MARGIN, 22.0)
        pdf.cell(
            _TEXT_W,
            4.0,
            "Criminal Procedure Rules, r. 16.2; Criminal Justice Act 1967, s. 9",
            align="C",
        )
    # URN: left blank for the case file, boxed as on the form.
    with pdf.font(10, "B"):
        pdf.set_xy(_PAGE_W - _MARGIN - 72.0, 29.0)
        pdf.cell(10.0, 7.0, "URN:")
    pdf.rect(_PAGE_W - _MARGIN - 62.0, 29.0, 62.0, 7.0)

    pdf.set_y(39.0)
    _labelled_line(pdf, "Statement of:", _field(content, "witness.name") or "", _MARGIN, _TEXT_W)
    pdf.set_y(47.0)
    _labelled_line(pdf, "Age if under 18:", age_if_under_18(content), _MARGIN, 62.0)
    _labelled_line(
        pdf,
        "Occupation:",
        _field(content, "witness.occupation") or "",
        _MARGIN + 68.0,
        _TEXT_W - 68.0,
    )

    # The declaration sits in a box of fixed size: its page-count digits or a longer accepted
    # wording must not move the narrative.
    pdf.rect(_MARGIN, 56.0, _TEXT_W, 19.0)
    pdf.text_box(declaration, _MARGIN + 2.0, 57.5, _TEXT_W - 4.0, 16.0, size=9.5)

    with pdf.font(10, "B"):
        pdf.set_xy(_MARGIN, 78.0)
        pdf.cell(20.0, 6.0, "Signature:")
    pdf.signature_box(_MARGIN + 20.0, 78.0, 70.0, 13.0)
    signed_on = f"{_utc(c.confirmed_at):%d/%m/%Y}" if c is not None else ""
    pdf.set_y(85.0)
    _labelled_line(pdf, "Date:", signed_on, _MARGIN + 100.0, _TEXT_W - 100.0)

    pdf.line(_MARGIN, 95.0, _PAGE_W - _MARGIN, 95.0)
    pdf.set_xy(_MARGIN, 98.0)
    _narrative(pdf, content, "(no statement text)")


def _two_column_table(pdf: _StatementPDF, rows: list[tuple[str, str]]) -> None:
    with (
        pdf.font(10),
        pdf.table(
            col_widths=(45, _TEXT_W - 45),
            width=_TEXT_W,
            first_row_as_headings=False,
            text_align="LEFT",
            line_height=5.5,
            padding=1.0,
        ) as table,
    ):
        for label, value in rows:
            row = table.row()
            row.cell(_latin1(label), style=FontFace(emphasis="BOLD"))
            row.cell(_latin1(value))


def _heading(pdf: _StatementPDF, text: str) -> None:
    if pdf.will_page_break(20.0):  # keep a heading with at least a little of what follows
        pdf.add_page()
    pdf.ln(3.0)
    with pdf.font(11, "B"):
        pdf.cell(0, 7.0, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _draw_missing_person(pdf: _StatementPDF, doc: ExportDocument) -> None:
    content = doc.content

    def value(name: str) -> str:
        return _field(content, name) or NOT_STATED

    pdf.add_page()
    with pdf.font(15, "B"):
        pdf.set_xy(_MARGIN, 14.0)
        pdf.cell(_TEXT_W, 8.0, "MISSING PERSON REPORT", align="C")
    with pdf.font(9):
        pdf.set_xy(_MARGIN, 22.0)
        reported = content.get("statement_date") or NOT_STATED
        pdf.cell(_TEXT_W, 5.0, _latin1(f"Report date: {reported}"), align="C")
    pdf.set_xy(_MARGIN, 28.0)

    _heading(pdf, "Missing person")
    _two_column_table(
        pdf,
        [
            ("Name", value("missing.name")),
            ("Age", value("missing.age")),
            ("Height (cm)", value("missing.height")),
            ("Last seen date", value("missing.last_seen_date")),
            ("Last seen time", value("missing.last_seen_time")),
            ("Last seen location", value("missing.last_seen_location")),
            ("Clothing", value("missing.clothing")),
            ("Description", value("missing.description")),
            ("Risk factors", value("missing.risk_factors")),
        ],
    )

    _heading(pdf, "Reporting person")
    _two_column_table(
        pdf,
        [
            ("Name", value("witness.name")),
            ("Phone", value("witness.phone")),
            ("Address", value("witness.address")),
            ("Postcode", value("witness.postcode")),
        ],
    )

    persons = [p for p in content.get("persons") or [] if isinstance(p, dict)]
    if persons:
        _heading(pdf, "Other people mentioned")
        _two_column_table(
            pdf,
            [
                (
                    str(p.get("name") or NOT_STATED),
                    "; ".join(str(p[k]) for k in ("role", "description") if p.get(k)) or "",
                )
                for p in persons
            ],
        )
    vehicles = [v for v in content.get("vehicles") or [] if isinstance(v, dict)]
    if vehicles:
        _heading(pdf, "Vehicles")
        _two_column_table(
            pdf,
            [
                (
                    str(v.get("registration") or NOT_STATED),
                    " ".join(str(v[k]) for k in ("colour", "make", "model") if v.get(k)),
                )
                for v in vehicles
            ],
        )

    # Safeguarding first: it is what the supervising officer must see before anything else.
    flags = [f for f in content.get("flags") or [] if isinstance(f, dict)]
    flags.sort(key=lambda f: f.get("kind") != "safeguarding")
    _heading(pdf, "Safeguarding and points to check")
    if not flags:
        with pdf.font(10):
            pdf.multi_cell(0, 7.0, "None recorded.", border=1, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    else:
        with (
            pdf.font(10),
            pdf.table(
                col_widths=(35, 40, _TEXT_W - 75),
                width=_TEXT_W,
                text_align="LEFT",
                line_height=5.5,
                padding=1.0,
                borders_layout=TableBordersLayout.ALL,
            ) as table,
        ):
            head = table.row()
            for title in ("Kind", "Field", "Reason"):
                head.cell(title)
            for flag in flags:
                row = table.row()
                kind = str(flag.get("kind") or "")
                safeguarding = kind == "safeguarding"
                style = FontFace(emphasis="BOLD") if safeguarding else None
                row.cell(_latin1(kind.upper() if safeguarding else kind), style=style)
                row.cell(_latin1(str(flag.get("field") or "")))
                row.cell(_latin1(str(flag.get("reason") or "")), style=style)

    _heading(pdf, "Account")
    _narrative(pdf, content, "(no account recorded)")

    # The confirmation block has one fixed size, filled or blank, so confirming never moves it
    # onto a new page.
    block_h = 40.0
    pdf.ln(4.0)
    if pdf.will_page_break(block_h):
        pdf.add_page()
    top = pdf.get_y()
    pdf.rect(_MARGIN, top, _TEXT_W, block_h)
    c = doc.confirmation
    with pdf.font(10, "B"):
        pdf.set_xy(_MARGIN + 2.0, top + 1.5)
        pdf.cell(0, 6.0, "Review and confirmation")
    pdf.set_y(top + 8.0)
    _labelled_line(pdf, "Confirmed by:", c.officer if c else "", _MARGIN + 2.0, _TEXT_W / 2 - 4.0)
    _labelled_line(
        pdf,
        "Date/time:",
        _utc_text(c.confirmed_at) if c else "",
        _MARGIN + _TEXT_W / 2 + 2.0,
        _TEXT_W / 2 - 4.0,
    )
    pdf.set_y(top + 16.0)
    _labelled_line(pdf, "Place:", (c.place or "") if c else "", _MARGIN + 2.0, _TEXT_W - 4.0)
    with pdf.font(10, "B"):
        pdf.set_xy(_MARGIN + 2.0, top + 25.0)
        pdf.cell(50.0, 6.0, "Signature of reporting person:")
    pdf.signature_box(_MARGIN + 60.0, top + 24.0, 70.0, 13.0)
    pdf.set_xy(_MARGIN, top + block_h)


def _render(doc: ExportDocument, total_pages: int | None) -> tuple[bytes, int]:
    content = doc.content
    template = content.get("template")
    c = doc.confirmation
    if template == "mg11":
        who = _field(content, "witness.name") or ""
        continuation = f"Continuation of statement of: {who}"
    elif template == "missing_person":
        who = _field(content, "missing.name") or NOT_STATED
        continuation = f"Missing person report (continued) - missing person: {who}"
    else:
        raise ValueError(f"no printed layout for template {template!r}")
    layout = _Layout(
        template=template,
        continuation=continuation,
        total_pages=total_pages,
        provenance=provenance_note(doc),
        small_print=(
            f"Statement ID: {doc.statement_id or '-'}   Status: {doc.status or '-'}   "
            f"Statement date: {content.get('statement_date') or '-'}   "
            f"Officer: {doc.officer or '-'}",
            f"Audio SHA-256: {doc.audio_sha256 or 'none (typed account)'}",
            f"Confirmed content SHA-256: {c.content_sha256}"
            if c is not None
            else "Confirmed content SHA-256: not yet confirmed",
        ),
        signature_png=c.signature_png if c is not None else None,
    )
    pdf = _StatementPDF(layout)
    title = "MG11 witness statement" if template == "mg11" else "Missing person report"
    pdf.set_title(f"{title} {doc.statement_id}".strip())
    if doc.officer:
        pdf.set_author(doc.officer)
    if c is not None:
        # The confirmed export is then byte-for-byte reproducible from the record.
        pdf.set_creation_date(_utc(c.confirmed_at))
    if template == "mg11":
        if c is not None:
            declaration = c.declaration
        else:
            declaration = mg11_declaration(total_pages) if total_pages else mg11_declaration(1)
        _draw_mg11(pdf, doc, declaration)
    else:
        _draw_missing_person(pdf, doc)
    pages = pdf.pages_count
    return bytes(pdf.output()), pages


def page_count(content: dict[str, Any], *, statement_id: str = "", officer: str = "") -> int:
    """How many pages the printed statement has: the number its declaration must state."""
    draft = ExportDocument(
        statement_id=statement_id, content=content, officer=officer, audio_sha256="", status=""
    )
    return _render(draft, None)[1]


def render_pdf(doc: ExportDocument) -> bytes:
    """The statement as an A4 PDF: an MG11 or a missing-person report, after its template.

    A confirmed statement is printed with the page count its declaration states, and it is an
    error (ValueError) if the content no longer lays out in that many pages.
    """
    c = doc.confirmation
    if c is not None:
        data, pages = _render(doc, c.page_count)
        if pages != c.page_count:
            raise ValueError(
                f"the confirmed declaration states {c.page_count} page(s) but the statement "
                f"prints on {pages}; the content has changed since it was confirmed"
            )
        return data
    # A draft states its own page count, which only rendering can tell.
    pages = _render(doc, None)[1]
    data, again = _render(doc, pages)
    if again != pages:  # the fixed-size layout makes this impossible; never print a false count
        raise RuntimeError(f"page count changed between renders ({pages} then {again})")
    return data
