"""Formula-safe cells (OWASP "CSV injection"): text from users (job and destination names,
hosts, error messages) never becomes a formula in Excel or LibreOffice.

A spreadsheet evaluates a CSV field that starts with ``=``, ``+``, ``-`` or ``@`` (and, after
trimming, a tab or carriage return) as a formula; OWASP's advice is to prefix such a field
with a single quote, which the spreadsheet shows as text. In XLSX a cell carries its type:
text written as a string cell is never evaluated, so only openpyxl's own rule (a string
starting with ``=`` becomes a formula; ``#N/A`` and its kin error cells) has to be overridden.
"""

from __future__ import annotations

# The full-width forms too: some spreadsheets fold them to their ASCII twins.
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def is_risky(text: str) -> bool:
    """Whether a spreadsheet could read ``text`` as a formula."""
    return text.startswith(TRIGGERS)


def csv_text(value: str | None) -> str:
    """``value`` for a CSV field: prefixed with ``'`` where it could start a formula."""
    if value is None:
        return ""
    return "'" + value if is_risky(value) else value


def xlsx_text(sheet, value: str | None):
    """``value`` for a write-only sheet: as it is when openpyxl stores it as plain text,
    else a new cell forced to the string type (never a formula, never an error code).
    A new one each time: the sheet reuses a cell it is given for the values after it."""
    if value is None or not isinstance(value, str):
        return value
    if not value.startswith("=") and not value.startswith("#"):
        return value
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell
