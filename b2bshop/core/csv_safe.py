"""CSV cells that a spreadsheet would not run as a formula (OWASP, "CSV Injection").

A customer's name is typed by people outside the store; in an exported CSV, a cell that
begins with =, +, -, @, a tab or a carriage return is a formula to Excel and LibreOffice.
Such a cell gets a leading apostrophe, which spreadsheets show as text and do not run.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str) -> str:
    """A free-text cell made inert; numbers and dates are written by the exporter itself."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value
