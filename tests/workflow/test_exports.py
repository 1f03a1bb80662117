"""The PDF exports, rendered for real: fpdf2 writes them, pdfium reads the text back and rasterises
every page, so the tests see what a reader of the PDF would see."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw

from workflow.exports import (
    MG11_DECLARATION_TEMPLATE,
    ConfirmationInfo,
    ExportDocument,
    age_if_under_18,
    mg11_declaration,
    page_count,
    provenance_note,
    render_pdf,
)

AUDIO_SHA = "3f" * 32
CONTENT_SHA = "a7" * 32
CONFIRMED_AT = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
OFFICER = "PC 4471 Morgan"


def field(value: Any) -> dict[str, Any]:
    return {"value": value, "text": str(value)}


def mg11_content(narrative: str, **fields: Any) -> dict[str, Any]:
    values = {
        "witness.name": "Sarah Jane Holloway",
        "witness.age": 34,
        "witness.occupation": "staff nurse",
    }
    values.update(fields)
    return {
        "template": "mg11",
        "statement_date": "2026-11-20",
        "fields": {name: field(v) for name, v in values.items() if v is not None},
        "persons": [],
        "vehicles": [],
        "weapons": [],
        "narrative": narrative,
        "flags": [],
    }


def long_narrative(paragraphs: int) -> str:
    sentence = (
        "I was standing at the bus stop on Market Street when the silver car pulled up and "
        "two men got out, one of them shouting at the driver of the van behind. "
    )
    return "\n\n".join(f"Paragraph {i}. " + sentence * 4 for i in range(1, paragraphs + 1))


def signature_png() -> bytes:
    image = Image.new("RGB", (300, 80), "white")
    ImageDraw.Draw(image).line([(10, 60), (80, 15), (150, 65), (220, 10), (290, 55)], "black", 6)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def confirm(
    content: dict[str, Any], *, place: str | None = "Penrith Police Station", **kw: Any
) -> ExportDocument:
    pages = page_count(content, statement_id="stmt-001", officer=OFFICER)
    confirmation = ConfirmationInfo(
        officer=OFFICER,
        confirmed_at=CONFIRMED_AT,
        place=place,
        page_count=pages,
        declaration=mg11_declaration(pages),
        content_sha256=CONTENT_SHA,
        **kw,
    )
    return ExportDocument(
        statement_id="stmt-001",
        content=content,
        officer=OFFICER,
        audio_sha256=AUDIO_SHA,
        status="confirmed",
        confirmation=confirmation,
    )


def draft(content: dict[str, Any]) -> ExportDocument:
    return ExportDocument(
        statement_id="stmt-002",
        content=content,
        officer=OFFICER,
        audio_sha256=AUDIO_SHA,
        status="draft",
    )


def flat(text: str) -> str:
    """Page text with pdfium's line breaks folded, so wrapped sentences can be matched."""
    return " ".join(text.split())


def read_pages(data: bytes) -> list[str]:
    pdf = pdfium.PdfDocument(data)
    try:
        texts = []
        for i in range(len(pdf)):
            page = pdf[i]
            texts.append(flat(page.get_textpage().get_text_range()))
            page.close()
        return texts
    finally:
        pdf.close()


def render_pngs(data: bytes, folder: Path) -> list[Path]:
    pdf = pdfium.PdfDocument(data)
    paths = []
    try:
        for i in range(len(pdf)):
            page = pdf[i]
            path = folder / f"page-{i + 1}.png"
            page.render(scale=1).to_pil().save(path)
            paths.append(path)
            page.close()
    finally:
        pdf.close()
    return paths


def image_objects_per_page(data: bytes) -> list[int]:
    pdf = pdfium.PdfDocument(data)
    try:
        counts = []
        for i in range(len(pdf)):
            page = pdf[i]
            counts.append(len(list(page.get_objects(filter=[pdfium.raw.FPDF_PAGEOBJ_IMAGE]))))
            page.close()
        return counts
    finally:
        pdf.close()


def assert_page_image_is_a4_and_inked(path: Path) -> None:
    with Image.open(path) as opened:
        image = opened.convert("L")
    width, height = image.size
    assert abs(height / width - 297 / 210) < 0.01
    header = image.crop((0, 0, width, int(height * 0.08)))
    footer = image.crop((0, int(height * 0.85), width, height))
    for area in (header, footer):
        dark = sum(area.histogram()[:100])
        assert dark > 50, "expected printed text in the header and footer"


# --- the declaration and the provenance -------------------------------------------------------


def test_declaration_states_the_page_count_in_the_form_wording() -> None:
    assert "(consisting of 1 page each signed by me)" in mg11_declaration(1)
    assert "(consisting of 3 pages each signed by me)" in mg11_declaration(3)
    assert mg11_declaration(2) == MG11_DECLARATION_TEMPLATE.format(pages="2 pages")
    assert mg11_declaration(2).endswith(
        "I shall be liable to prosecution if I have wilfully stated anything in it which I know "
        "to be false, or do not believe to be true."
    )
    with pytest.raises(ValueError):
        mg11_declaration(0)


def test_provenance_names_the_officer_time_in_utc_and_place() -> None:
    doc = confirm(mg11_content("Short."))
    note = provenance_note(doc)
    assert note == (
        "Drafted by machine transcription (speech recognition) of the witness's recorded "
        "account, then reviewed and confirmed with the witness by PC 4471 Morgan at "
        "2026-11-20 14:05 UTC at Penrith Police Station."
    )
    # A local time is stated in UTC, and no place means no "at <place>".
    assert doc.confirmation is not None
    local = replace(
        doc.confirmation,
        confirmed_at=datetime(2026, 7, 1, 10, 30, tzinfo=timezone(timedelta(hours=1))),
        place=None,
    )
    assert provenance_note(replace(doc, confirmation=local)).endswith(
        "by PC 4471 Morgan at 2026-07-01 09:30 UTC."
    )
    assert provenance_note(draft(mg11_content("Short."))).startswith("DRAFT")


# --- the MG11 --------------------------------------------------------------------------------


def test_confirmed_mg11_prints_every_page_as_the_form(tmp_path: Path) -> None:
    content = mg11_content(long_narrative(14))
    doc = confirm(content, signature_png=signature_png())
    assert doc.confirmation is not None
    data = render_pdf(doc)
    assert data.startswith(b"%PDF")

    pages = read_pages(data)
    n = len(pages)
    assert n >= 3, "the narrative should run over several pages"
    assert n == doc.confirmation.page_count == page_count(content)

    for i, text in enumerate(pages, start=1):
        assert f"Page {i} of {n}" in text
        assert "Signature:" in text and "Signature witnessed by:" in text
        assert "RESTRICTED (when complete)" in text
        assert "reviewed and confirmed with the witness by PC 4471 Morgan" in text
        assert f"Audio SHA-256: {AUDIO_SHA}" in text
        assert f"Confirmed content SHA-256: {CONTENT_SHA}" in text
        assert "Statement ID: stmt-001" in text
    first = pages[0]
    assert "MG 11" in first and "WITNESS STATEMENT" in first
    assert "Criminal Procedure Rules, r. 16.2; Criminal Justice Act 1967, s. 9" in first
    assert "Statement of: Sarah Jane Holloway" in first
    assert "Age if under 18: Over 18" in first
    assert "Occupation: staff nurse" in first
    assert "URN:" in first
    assert mg11_declaration(n) in first
    assert f"consisting of {n} pages" in first
    assert "Date: 20/11/2026" in first
    assert "Continuation of statement of: Sarah Jane Holloway" in pages[1]
    # The narrative is all there, in order, across the pages.
    everything = " ".join(pages)
    positions = [everything.index(f"Paragraph {i}.") for i in range(1, 15)]
    assert positions == sorted(positions)

    # The signature is drawn in the page-one box and in every page's footer box.
    assert image_objects_per_page(data) == [2] + [1] * (n - 1)

    pngs = render_pngs(data, tmp_path)
    assert len(pngs) == n
    for path in pngs:
        assert_page_image_is_a4_and_inked(path)


def test_draft_mg11_says_draft_on_every_page_and_states_its_real_page_count(
    tmp_path: Path,
) -> None:
    data = render_pdf(draft(mg11_content(long_narrative(8))))
    pages = read_pages(data)
    n = len(pages)
    assert n >= 2
    assert f"consisting of {n} pages" in pages[0]
    for i, text in enumerate(pages, start=1):
        assert "DRAFT - machine transcription, not yet reviewed and confirmed" in text
        assert "Not for use as evidence" in text
        assert "Confirmed content SHA-256: not yet confirmed" in text
        assert f"Page {i} of {n}" in text
    assert "confirmed with the witness by" not in " ".join(pages)
    assert image_objects_per_page(data) == [0] * n
    for path in render_pngs(data, tmp_path):
        assert_page_image_is_a4_and_inked(path)


@pytest.mark.parametrize(("age", "shown"), [(14, "Age if under 18: 14 "), (34, "Over 18")])
def test_age_is_shown_only_when_under_18(age: int, shown: str) -> None:
    text = read_pages(render_pdf(draft(mg11_content("Short.", **{"witness.age": age}))))[0]
    assert shown in text
    assert (
        age_if_under_18(mg11_content("x", **{"witness.age": age})) == shown.split(": ")[-1].strip()
    )


def test_age_unknown_is_blank_and_a_stated_birth_date_is_used() -> None:
    assert age_if_under_18(mg11_content("x", **{"witness.age": None})) == ""
    born_2010 = mg11_content("x", **{"witness.age": None, "witness.date_of_birth": "2010-12-01"})
    assert age_if_under_18(born_2010) == "15"  # statement date 2026-11-20, birthday not yet
    born_1990 = mg11_content("x", **{"witness.age": None, "witness.date_of_birth": "1990-01-01"})
    assert age_if_under_18(born_1990) == "Over 18"


def test_absent_fields_stay_blank_and_nothing_is_invented() -> None:
    content = mg11_content(
        "I saw it.", **{"witness.name": None, "witness.age": None, "witness.occupation": None}
    )
    text = read_pages(render_pdf(draft(content)))[0]
    # The labels follow one another with nothing between them.
    assert "Statement of: Age if under 18: Occupation: This statement" in text
    assert "Continuation of statement of" not in text


def test_text_helvetica_cannot_encode_is_replaced_not_fatal() -> None:
    narrative = "He said “stop” – then ‘ran’… 😀 and shouted 你好 at me. Café, naïve, Zoë."
    data = render_pdf(draft(mg11_content(narrative)))
    text = read_pages(data)[0]
    assert "He said \"stop\" - then 'ran'... ? and shouted ?? at me. Café, naïve, Zoë." in text


def pdf_pages(data: bytes) -> int:
    pdf = pdfium.PdfDocument(data)
    try:
        return len(pdf)
    finally:
        pdf.close()


def page_breaks(make: Any, pages: int) -> list[int]:
    """For each page p up to the given count, the fewest narrative lines that print on p pages,
    found by bisection: the lengths where the last line only just does or doesn't fit."""
    found = []
    low = 0
    for p in range(2, pages + 1):
        high = low + 1
        while page_count(make(high)) < p:
            high *= 2
        while low + 1 < high:
            mid = (low + high) // 2
            if page_count(make(mid)) >= p:
                high = mid
            else:
                low = mid
        found.append(high)
        low = high
    return found


def assert_confirming_keeps_the_page_count(make: Any, place: str) -> None:
    """Around every page break, whatever the confirmation adds (long officer name and place,
    signature, hashes, the count's digits), the confirmed PDF has exactly the pages the draft had,
    so the declaration it prints is true."""
    breaks = page_breaks(make, 3)
    assert len(breaks) == 2
    for pages, first_line_over in enumerate(breaks, start=2):
        for lines, expected in ((first_line_over - 1, pages - 1), (first_line_over, pages)):
            content = make(lines)
            doc = confirm(content, place=place, signature_png=signature_png())
            assert doc.confirmation is not None
            assert doc.confirmation.page_count == expected
            assert pdf_pages(render_pdf(draft(content))) == expected
            assert pdf_pages(render_pdf(doc)) == expected


def test_confirming_never_changes_the_mg11_page_count() -> None:
    sentence = "Line of the account that fills exactly one printed line of the statement."

    def make(lines: int) -> dict[str, Any]:
        return mg11_content("\n".join(f"{i}. {sentence}" for i in range(lines)))

    place = "the front office of Carlisle Police Station, English Street, Carlisle " * 3
    assert_confirming_keeps_the_page_count(make, place)


def test_ten_pages_or_more_still_print_as_declared() -> None:
    content = mg11_content(long_narrative(60))
    doc = confirm(content)
    pages = read_pages(render_pdf(doc))
    assert len(pages) >= 10
    assert f"consisting of {len(pages)} pages" in pages[0]
    assert f"Page {len(pages)} of {len(pages)}" in pages[-1]


def test_a_declaration_that_no_longer_matches_the_content_is_refused() -> None:
    doc = confirm(mg11_content("Short."))
    assert doc.confirmation is not None
    grown = replace(doc, content=mg11_content(long_narrative(14)))
    with pytest.raises(ValueError, match="states 1 page"):
        render_pdf(grown)


def test_confirmed_export_is_reproducible_byte_for_byte() -> None:
    doc = confirm(mg11_content(long_narrative(3)), signature_png=signature_png())
    assert render_pdf(doc) == render_pdf(doc)


def test_bad_signature_image_and_unknown_template_are_errors() -> None:
    with pytest.raises(ValueError, match="signature"):
        render_pdf(confirm(mg11_content("Short."), signature_png=b"not a png"))
    content = mg11_content("Short.")
    content["template"] = "mg9"
    with pytest.raises(ValueError, match="mg9"):
        render_pdf(draft(content))


# --- the missing-person report -----------------------------------------------------------------


def missing_content(narrative: str) -> dict[str, Any]:
    values = {
        "missing.name": "Lily Hart",
        "missing.age": 14,
        "missing.last_seen_date": "2026-11-19",
        "missing.last_seen_time": "21:30",
        "missing.last_seen_location": "Bus station, Penrith",
        "missing.clothing": "black puffer jacket, grey joggers, white trainers",
        "witness.name": "Anne Hart",
        "witness.phone": "07700900123",
        "witness.address": "14 Lowther Street, Carlisle",
    }
    return {
        "template": "missing_person",
        "statement_date": "2026-11-20",
        "fields": {name: field(v) for name, v in values.items()},
        "persons": [{"name": "Jordan Reece", "role": "associate", "description": "older man"}],
        "vehicles": [{"registration": "AB12 CDE", "make": "Ford", "model": "Focus"}],
        "weapons": [],
        "narrative": narrative,
        "flags": [
            {"kind": "low_confidence", "field": "witness.phone", "reason": "digits unclear"},
            {
                "kind": "safeguarding",
                "field": "missing.age",
                "reason": "Child under 16 missing overnight with an older adult",
            },
        ],
    }


def test_confirmed_missing_person_report(tmp_path: Path) -> None:
    content = missing_content(long_narrative(12))
    doc = confirm(content, signature_png=signature_png())
    assert doc.confirmation is not None
    data = render_pdf(doc)
    assert data.startswith(b"%PDF")
    pages = read_pages(data)
    n = len(pages)
    assert n >= 2
    assert n == doc.confirmation.page_count == page_count(content)

    first = pages[0]
    assert "MISSING PERSON REPORT" in first
    for expected in (
        "Name Lily Hart",
        "Age 14",
        "Height (cm) not stated",  # absent from the content: said so, not guessed
        "Last seen date 2026-11-19",
        "Last seen time 21:30",
        "Last seen location Bus station, Penrith",
        "Clothing black puffer jacket, grey joggers, white trainers",
        "Name Anne Hart",
        "Phone 07700900123",
        "Address 14 Lowther Street, Carlisle",
        "Postcode not stated",
        "Jordan Reece associate; older man",
        "AB12 CDE Ford Focus",
    ):
        assert expected in first
    # Safeguarding comes first in the flags box, then the rest.
    safeguarding = first.index("SAFEGUARDING missing.age Child under 16 missing overnight")
    assert safeguarding < first.index("low_confidence witness.phone digits unclear")

    everything = " ".join(pages)
    assert everything.index("Account") < everything.index("Paragraph 1.")
    assert "Confirmed by: PC 4471 Morgan" in pages[-1]
    assert "Date/time: 2026-11-20 14:05 UTC" in pages[-1]
    for i, text in enumerate(pages, start=1):
        assert f"Page {i} of {n}" in text
        assert "reviewed and confirmed with the witness by PC 4471 Morgan" in text
        assert f"Audio SHA-256: {AUDIO_SHA}" in text
    assert "Missing person report (continued) - missing person: Lily Hart" in pages[1]
    # The reporting person's signature appears once, in the confirmation block.
    assert sum(image_objects_per_page(data)) == 1

    for path in render_pngs(data, tmp_path):
        assert_page_image_is_a4_and_inked(path)


def test_draft_missing_person_report_says_draft_and_no_flags_is_said() -> None:
    content = missing_content("She left after tea.")
    content["flags"] = []
    text = read_pages(render_pdf(draft(content)))[0]
    assert "DRAFT - machine transcription" in text
    assert "None recorded." in text
    assert "Page 1 of 1" in text
    assert "Confirmed by: Date/time: Place:" in text


def test_confirming_never_changes_the_missing_person_page_count() -> None:
    sentence = "Line of the account that fills exactly one printed line of the report text."

    def make(lines: int) -> dict[str, Any]:
        content = missing_content("\n".join(f"{i}. {sentence}" for i in range(lines)))
        # Room on page 1 for some of the account, so each page break falls inside it: with the
        # description and risk-factor rows the full report's fixed part leaves none.
        content["vehicles"] = []
        return content

    assert_confirming_keeps_the_page_count(make, "Penrith " * 40)
