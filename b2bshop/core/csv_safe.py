"""CSV cells that a spreadsheet would not run as a formula (OWASP, "CSV Injection").

A customer's name is typed by people outside the store; in an exported CSV, a cell that
begins with =, +, -, @, a tab or a carriage return is a formula to Excel and LibreOffice.
Such a cell gets a leading apostrophe, which spreadsheets show as text and do not run.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from typing import Any

from flask import Response, stream_with_context
from sqlalchemy import Select

from b2bshop.extensions import db

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str) -> str:
    """A free-text cell made inert; numbers and dates are written by the exporter itself."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def streamed_csv(
    name: str, header: list[str], rows: Iterable[Any], row: Callable[[Any], list]
) -> Response:
    """A CSV download, written 500 rows at a time as the rows come (a long history never
    sits in memory); `row` turns one item into its cells (free text through text_cell)."""

    def generate():  # type: ignore[no-untyped-def]
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for count, item in enumerate(rows, start=1):
            writer.writerow(row(item))
            if count % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-{date.today()}.csv"'},
    )


def streamed_scalars(stmt: Select) -> Iterator[Any]:
    """The statement's objects for streamed_csv, 500 at a time. It runs when the response
    streams, where stream_with_context keeps the request's session."""
    yield from db.session.scalars(stmt.execution_options(yield_per=500))
