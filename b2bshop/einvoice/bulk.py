"""A ZIP of the e-invoices a filtered list matches, written while it is sent.

zipfile writes to a sink that cannot seek (data descriptors after each file), and each
file's bytes leave as soon as they are written: the whole archive is never in memory.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from b2bshop.billing.models import Invoice
from b2bshop.billing.service import settlements
from b2bshop.einvoice import document, ubl
from b2bshop.einvoice.facturx_pdf import facturx_pdf
from b2bshop.extensions import db

FORMATS = ("ubl", "facturx")
#: Invoices loaded (with their lines) per query while the archive is written.
BATCH = 50


class _Sink(io.RawIOBase):
    """Collects what zipfile writes; take() hands it over and forgets it."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[no-untyped-def, override]
        self._chunks.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def entry(invoice: Invoice, fmt: str, today: date) -> tuple[str, bytes]:
    """One file of the archive: its name and content."""
    if fmt == "ubl":
        return f"{invoice.number}.ubl.xml", ubl.to_xml(document.build(invoice))
    return f"{invoice.number}.facturx.pdf", facturx_pdf(invoice, settlements(invoice), today)


def stream_zip(invoice_ids: list[int], fmt: str, today: date) -> Iterator[bytes]:
    """The archive of these invoices, in their order, chunk by chunk."""
    sink = _Sink()
    # XML compresses well; a PDF is compressed already.
    method = zipfile.ZIP_DEFLATED if fmt == "ubl" else zipfile.ZIP_STORED
    with zipfile.ZipFile(sink, mode="w", compression=method) as archive:
        for start in range(0, len(invoice_ids), BATCH):
            ids = invoice_ids[start : start + BATCH]
            loaded = {
                invoice.id: invoice
                for invoice in db.session.scalars(
                    select(Invoice).where(Invoice.id.in_(ids)).options(selectinload(Invoice.lines))
                )
            }
            for invoice_id in ids:
                name, content = entry(loaded[invoice_id], fmt, today)
                info = zipfile.ZipInfo(name, date_time=today.timetuple()[:6])
                info.compress_type = method
                archive.writestr(info, content)
                yield sink.take()
            db.session.expunge_all()  # a batch at a time in memory
    yield sink.take()
