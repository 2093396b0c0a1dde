"""What invoices and reports share: an A4 page with embedded fonts, a footer with page
numbers, tables whose header repeats on every page, and how amounts and times print."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import Align

FONTS = Path(__file__).parent / "fonts"
FONT = "DejaVuSans"
# For IDs: every character the same width, so a column can be made to fit any ID.
MONO = "DejaVuSansMono"
FALLBACK = "DroidSansFallback"
GREY = (110, 110, 110)
RULE = (200, 200, 200)
HEADING_FILL = (236, 239, 243)
STRIPE_FILL = (248, 249, 251)


@lru_cache(maxsize=1)
def _covered() -> frozenset[int]:
    """The code points DejaVu Sans draws, to embed the (larger) CJK fallback only into
    documents that need it: loading it costs more than the rest of a small invoice."""
    with TTFont(FONTS / f"{FONT}.ttf", lazy=True) as font:
        return frozenset(font.getBestCmap())


def needs_fallback(texts: Iterable[str]) -> bool:
    covered = _covered()
    return any(ord(char) not in covered for text in texts for char in text if char > "\x7f")


@dataclass(frozen=True, slots=True)
class Column:
    heading: str
    width: float  # millimetres
    align: Literal["LEFT", "RIGHT", "CENTER"] = "LEFT"
    mono: bool = False


class Document(FPDF):
    """An A4 document in DejaVu Sans, with Droid Sans Fallback for CJK when `texts`
    (every string the document will print) hold characters DejaVu lacks."""

    def __init__(
        self,
        *,
        title: str,
        footer: str,
        texts: Iterable[str],
        orientation: Literal["portrait", "landscape"] = "portrait",
    ) -> None:
        super().__init__(orientation=orientation, unit="mm", format="A4")
        self.footer_text = footer
        self.add_font(FONT, "", FONTS / f"{FONT}.ttf")
        self.add_font(FONT, "B", FONTS / f"{FONT}-Bold.ttf")
        self.add_font(MONO, "", FONTS / f"{MONO}.ttf")
        if needs_fallback([title, footer, *texts]):
            self.add_font(FALLBACK, "", FONTS / f"{FALLBACK}.ttf")
            # Bold CJK prints in the regular face: the fallback has no bold.
            self.set_fallback_fonts([FALLBACK], exact_match=False)
        self.set_title(title)
        self.set_creator("ordergraph")
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=18)
        self.alias_nb_pages()
        self.set_font(FONT, size=10)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(FONT, size=8)
        self.set_text_color(*GREY)
        width = self.epw / 2
        self.cell(width, 5, self.footer_text, align=Align.L)
        self.cell(width, 5, f"Page {self.page_no()} of {{nb}}", align=Align.R)
        self.set_text_color(0)

    def heading(self, text: str, *, size: float = 18) -> None:
        self.set_font(FONT, "B", size)
        self.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, size=10)

    def lines(self, lines: Sequence[str], *, width: float = 0, bold_first: bool = False) -> None:
        """Short lines one under another, from the current position."""
        x = self.get_x()
        for index, line in enumerate(lines):
            self.set_x(x)
            self.set_font(FONT, "B" if bold_first and index == 0 else "", 10)
            self.multi_cell(width, 5, line, new_x="LEFT", new_y="NEXT")
        self.set_font(FONT, size=10)

    def label(self, text: str) -> None:
        self.set_font(FONT, "B", 8)
        self.set_text_color(*GREY)
        self.cell(0, 5, text.upper(), new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0)
        self.set_font(FONT, size=10)

    def table_of(
        self,
        columns: Sequence[Column],
        rows: Iterable[Sequence[str]],
        *,
        size: float = 9,
        footer_rows: Sequence[Sequence[str]] = (),
    ) -> None:
        """A table with a heading row, repeated at the top of every page it spans; cells
        wrap at spaces (a word longer than its column, at any character). `footer_rows`
        (totals) print in bold after the rows.

        Drawn cell by cell rather than with fpdf2's `table()`, whose line breaking costs
        time in the square of a cell's length: 5,000 rows took 27 s with it."""
        table = _Table(self, columns, size)
        table.heading()
        for index, values in enumerate(rows):
            table.row(values, fill=index % 2 == 1)
        for values in footer_rows:
            table.row(values, bold=True)
        self.c_margin = table.saved_margin
        self.set_font(FONT, size=10)


class _Table:
    PAD_X = 1.5
    PAD_Y = 1.2

    def __init__(self, pdf: Document, columns: Sequence[Column], size: float) -> None:
        self.pdf = pdf
        self.columns = columns
        self.size = size
        self.line_height = size * 0.45
        self.width = sum(column.width for column in columns)
        self.saved_margin = pdf.c_margin
        pdf.c_margin = self.PAD_X

    def heading(self) -> None:
        headings = [column.heading for column in self.columns]
        # A heading is never left alone at the foot of a page.
        self._draw(headings, bold=True, fill=HEADING_FILL, keep_with=2 * self.line_height)

    def row(self, values: Sequence[str], *, fill: bool = False, bold: bool = False) -> None:
        self._draw(values, bold=bold, fill=STRIPE_FILL if fill else None)

    def _draw(
        self,
        values: Sequence[str],
        *,
        bold: bool,
        fill: tuple[int, int, int] | None,
        keep_with: float = 0,
    ) -> None:
        pdf = self.pdf
        cells = []
        for column, value in zip(self.columns, values, strict=True):
            self._font(column, bold)
            cells.append(self._wrap(value, column.width - 2 * self.PAD_X))
        height = max(len(lines) for lines in cells) * self.line_height + 2 * self.PAD_Y
        if pdf.will_page_break(height + keep_with):
            pdf.add_page()
            if not keep_with:
                self.heading()
        x, y = pdf.l_margin, pdf.get_y()
        if fill is not None:
            pdf.set_fill_color(*fill)
            pdf.rect(x, y, self.width, height, style="F")
        for column, lines in zip(self.columns, cells, strict=True):
            self._font(column, bold)
            top = y + (height - len(lines) * self.line_height) / 2
            for index, line in enumerate(lines):
                pdf.set_xy(x, top + index * self.line_height)
                pdf.cell(column.width, self.line_height, line, align=column.align[0])
            x += column.width
        pdf.set_draw_color(*RULE)
        pdf.line(pdf.l_margin, y + height, pdf.l_margin + self.width, y + height)
        pdf.set_draw_color(0)
        pdf.set_xy(pdf.l_margin, y + height)

    def _font(self, column: Column, bold: bool) -> None:
        if column.mono and not bold:
            self.pdf.set_font(MONO, "", self.size)
        else:
            self.pdf.set_font(FONT, "B" if bold else "", self.size)

    def _wrap(self, text: str, width: float) -> list[str]:
        measure = self.pdf.get_string_width
        lines: list[str] = []
        for paragraph in text.split("\n"):
            if measure(paragraph) <= width:
                lines.append(paragraph)
                continue
            line = ""
            for word in paragraph.split(" "):
                candidate = f"{line} {word}" if line else word
                if measure(candidate) <= width:
                    line = candidate
                    continue
                if line:
                    lines.append(line)
                line = word
                while measure(line) > width and len(line) > 1:
                    cut = len(line) - 1
                    while cut > 1 and measure(line[:cut]) > width:
                        cut -= 1
                    lines.append(line[:cut])
                    line = line[cut:]
            lines.append(line)
        return lines


def money(value: Decimal) -> str:
    """1234.5 -> "1,234.50": grouped, two places, as an accountant reads it."""
    return f"{value:,.2f}"


def when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
