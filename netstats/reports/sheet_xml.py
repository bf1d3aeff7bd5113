"""A fast writer for the rows of one big sheet (the Measurements sheet): openpyxl's write-only
mode spends most of its time building an element per cell (measured: about 500 rows of 20
cells per second on the loaded development machine, without lxml), so the rows are written
here as SpreadsheetML text into a temporary file, and spliced into the sheet openpyxl wrote
(header, widths, frozen pane, autofilter) when the workbook is saved.

Strings are inline strings (``t="inlineStr"``): a string cell is never a formula. Times are
Excel serial days of naive wall times; numbers are written with ``repr`` (exact round trip).
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from datetime import datetime
from typing import IO
from xml.sax.saxutils import escape

from openpyxl.utils import get_column_letter

EXCEL_EPOCH = datetime(1899, 12, 30)
# Characters XML 1.0 cannot carry at all (tab, line feed and carriage return it can).
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
SHEET_DATA_END = b"</sheetData>"


def _text(value: str) -> str:
    value = escape(_ILLEGAL.sub("", value))
    if value != value.strip():
        return f'<is><t xml:space="preserve">{value}</t></is>'
    return f"<is><t>{value}</t></is>"


class RowWriter:
    """Rows of a sheet, from row ``first_row`` on, into a temporary file. ``styles[i]`` is
    the style id of column i's numbers and times (0: none)."""

    def __init__(self, columns: int, styles: Sequence[int], first_row: int = 2):
        self.letters = [get_column_letter(i + 1) for i in range(columns)]
        # A cell names its column (r="B7") only after an empty one: otherwise it is the
        # next one, as SpreadsheetML allows (r is optional), which saves most of a cell.
        self.styles = [f' s="{s}"><v>' if s else "><v>" for s in styles]
        self.row = first_row
        self.file = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 - closed by splice/close
        self._parts: list[str] = []
        # Names, hosts and statuses repeat row after row: each is escaped once.
        self._strings: dict[str, str] = {}

    def _string(self, value: str) -> str:
        found = self._strings.get(value)
        if found is None:
            found = _text(value)
            if len(self._strings) < 10_000:
                self._strings[value] = found
        return found

    def append(self, values: Sequence) -> None:
        """One row: str, int, float, datetime (naive) or None (an empty cell)."""
        n = self.row
        cells = []
        add = cells.append
        strings = self._strings
        skipped = False
        for i, value in enumerate(values):
            if value is None:
                skipped = True
                continue
            kind = type(value)
            if kind is str:
                if not value:
                    skipped = True
                    continue
                text = strings.get(value)
                if text is None:
                    text = self._string(value)
                head = f'<c r="{self.letters[i]}{n}"' if skipped else "<c"
                add(f'{head} t="inlineStr">{text}</c>')
            else:
                if kind is float:
                    if value - value != 0.0:  # inf - inf and nan - nan are nan
                        skipped = True
                        continue
                    number = repr(value)
                elif kind is int:
                    number = str(value)
                elif kind is datetime:
                    number = repr((value - EXCEL_EPOCH).total_seconds() / 86400.0)
                elif kind is bool:
                    head = f'<c r="{self.letters[i]}{n}"' if skipped else "<c"
                    add(f'{head} t="b"><v>{int(value)}</v></c>')
                    skipped = False
                    continue
                elif isinstance(value, float | int):
                    if not math.isfinite(value):
                        skipped = True
                        continue
                    number = repr(float(value))
                else:
                    head = f'<c r="{self.letters[i]}{n}"' if skipped else "<c"
                    add(f'{head} t="inlineStr">{_text(str(value))}</c>')
                    skipped = False
                    continue
                head = f'<c r="{self.letters[i]}{n}"' if skipped else "<c"
                add(f"{head}{self.styles[i]}{number}</v></c>")
            skipped = False
        self._parts.append(f'<row r="{n}">{"".join(cells)}</row>')
        self.row += 1
        if len(self._parts) >= 5000:
            self.flush()

    def flush(self) -> None:
        if self._parts:
            self.file.write("".join(self._parts).encode("utf-8"))
            self._parts.clear()

    def close(self) -> None:
        """Drop the rows (when the workbook is not saved after all)."""
        self.file.close()

    @property
    def last_row(self) -> int:
        return self.row - 1

    def splice(self, source: IO[bytes], sheet_path: str, target: str | IO[bytes]) -> None:
        """Copy the workbook ``source`` into ``target`` with these rows inserted at the end of
        the sheetData of ``sheet_path`` (``xl/worksheets/sheetN.xml``)."""
        splice(source, {sheet_path: self}, target)


def splice(source: IO[bytes], writers: dict[str, RowWriter], target: str | IO[bytes]) -> None:
    """Copy the workbook ``source`` into ``target`` with each writer's rows inserted at the end
    of the sheetData of its sheet (``xl/worksheets/sheetN.xml``); closes the writers."""
    for writer in writers.values():
        writer.flush()
    with (
        zipfile.ZipFile(source) as zin,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zout,
    ):
        for info in zin.infolist():
            writer = writers.get(info.filename)
            if writer is None:
                zout.writestr(info, zin.read(info.filename), zipfile.ZIP_DEFLATED)
                continue
            xml = zin.read(info.filename)
            if SHEET_DATA_END in xml:
                head, tail = xml.split(SHEET_DATA_END, 1)
            else:  # an empty sheet: <sheetData/>
                head, tail = xml.replace(b"<sheetData/>", b"<sheetData>", 1).split(
                    b"<sheetData>", 1
                )
                head += b"<sheetData>"
            with zout.open(info.filename, "w", force_zip64=True) as out:
                out.write(head)
                writer.file.seek(0)
                shutil.copyfileobj(writer.file, out, 1 << 20)
                out.write(SHEET_DATA_END + tail)
    for writer in writers.values():
        writer.file.close()
