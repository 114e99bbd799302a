"""The owning entity's column, the same on every company-owned table (migration 0018)."""

from __future__ import annotations

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column


def entity_column() -> Mapped[int]:
    #: The legal entity this record belongs to; every list and lookup is filtered on it.
    return mapped_column(ForeignKey("legal_entities.id"), index=True)
