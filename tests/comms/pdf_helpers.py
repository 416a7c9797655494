"""Reading PDFs back in tests: text per page and where each piece of text sits (in mm from top-left)."""

from __future__ import annotations

import io

import pypdf

MM = 72 / 25.4


def pdf_reader(content: bytes) -> pypdf.PdfReader:
    assert content.startswith(b"%PDF-"), content[:20]
    return pypdf.PdfReader(io.BytesIO(content))


def page_texts(content: bytes) -> list[str]:
    return [page.extract_text() for page in pdf_reader(content).pages]


def page_size_pt(content: bytes) -> tuple[float, float]:
    box = pdf_reader(content).pages[0].mediabox
    return round(float(box.width), 1), round(float(box.height), 1)


def text_positions(content: bytes, page_number: int = 0) -> list[tuple[float, float, str]]:
    """(x, y of the baseline, text) in millimetres from the page's top-left corner."""
    page = pdf_reader(content).pages[page_number]
    height = float(page.mediabox.height)
    found: list[tuple[float, float, str]] = []

    def visit(text, cm, tm, font_dict, font_size):
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            found.append((x / MM, (height - y) / MM, text.strip()))

    page.extract_text(visitor_text=visit)
    return found


def position_of(content: bytes, text: str, page_number: int = 0) -> tuple[float, float]:
    for x, y, piece in text_positions(content, page_number):
        if piece.startswith(text):
            return x, y
    raise AssertionError(f"{text!r} not on page {page_number + 1}")


def image_count(content: bytes) -> int:
    count = 0
    for page in pdf_reader(content).pages:
        resources = page.get("/Resources") or {}
        xobjects = resources.get("/XObject") or {}
        for ref in xobjects.values():
            if ref.get_object().get("/Subtype") == "/Image":
                count += 1
    return count
