"""The entity the storefront serves, the one a store admin acts in, and which they may.

Every buyer and admin request asks these, so they cost no query once warm: a store admin's
limits are loaded with the user (accounts/service.py: load_user), the entity ids the
store and an unlimited admin fall back to are kept per process (an entity's id never
changes), and the switcher's names come from the cache for a minute.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, session
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from b2bshop.accounts.models import LegalEntity, Role, User
from b2bshop.entities.models import store_admin_entities
from b2bshop.errors import DomainError
from b2bshop.extensions import cache, db

#: Where the admin's chosen entity is kept between requests.
SESSION_KEY = "admin_entity_id"
DIRECTORY_KEY = "entities:directory"
DIRECTORY_SECONDS = 60


class EntityNotAllowed(DomainError):
    status_code = 404


@dataclass(frozen=True)
class EntityName:
    id: int
    code: str
    name: str


def default_entity_id() -> int:
    """The first legal entity: the one existing data moved into (migration 0018)."""
    from b2bshop.entities.models import first_entity

    return first_entity(db.session())


def entities() -> list[LegalEntity]:
    return list(db.session.scalars(select(LegalEntity).order_by(LegalEntity.id)))


def directory() -> list[EntityName]:
    """Every entity's id, code and name, for the switcher (cached a minute per process;
    saving an entity here clears it)."""
    found = cache.get(DIRECTORY_KEY)
    if found is None:
        found = [EntityName(e.id, e.code, e.name) for e in entities()]
        cache.set(DIRECTORY_KEY, found, timeout=DIRECTORY_SECONDS)
    return found


def forget_directory() -> None:
    """What this process knows of the entities, forgotten (they changed)."""
    current_app.extensions.pop("b2bshop.first_entity", None)
    current_app.extensions.pop("b2bshop.store_entity", None)
    cache.delete(DIRECTORY_KEY)


def _first_entity_id() -> int | None:
    known = current_app.extensions.get("b2bshop.first_entity")
    if known is None:
        known = db.session.scalar(select(LegalEntity.id).order_by(LegalEntity.id).limit(1))
        if known is not None:
            current_app.extensions["b2bshop.first_entity"] = known
    return known


def store_entity_id() -> int | None:
    """The entity this storefront serves: STORE_ENTITY (a code), else the first entity.
    None only before any entity exists. Looked up once per process (every buyer request
    checks it, and an entity's id never changes), not kept while there is none."""
    cache_ = current_app.extensions.setdefault("b2bshop.store_entity", {})
    if "id" in cache_:
        return cache_["id"]
    code = (current_app.config.get("STORE_ENTITY") or "").strip()
    if not code:
        return _first_entity_id()
    found = db.session.scalar(select(LegalEntity.id).where(LegalEntity.code == code))
    if found is not None:
        cache_["id"] = found
    return found


def limited_ids(user: User) -> list[int]:
    """The entities a store admin is limited to, in id order; empty: not limited."""
    if user.role != Role.STORE_ADMIN:
        return []
    return sorted(int(i) for i in (user.limited_entity_ids or "").split(",") if i)


def allowed_entity_ids(user: User) -> list[int]:
    """The entities a store admin may act in: those they are limited to, or all of them."""
    if user.role != Role.STORE_ADMIN:
        return []
    return limited_ids(user) or [e.id for e in directory()]


def may_act_in(user: User, entity_id: int | None) -> bool:
    if user.role != Role.STORE_ADMIN or entity_id is None:
        return False
    limited = limited_ids(user)
    return entity_id in limited if limited else True


def selected_entity_id(user: User) -> int | None:
    """The entity the admin acts in: the one chosen with the switcher (kept in the session)
    while it is still allowed, else the first allowed one."""
    if "admin_entity_id" in g:
        return g.admin_entity_id
    limited = limited_ids(user)
    chosen = session.get(SESSION_KEY)
    if chosen is not None and may_act_in(user, chosen):
        g.admin_entity_id = chosen
    else:
        g.admin_entity_id = limited[0] if limited else _first_entity_id()
    return g.admin_entity_id


def choose_entity(user: User, entity_id: int | None) -> LegalEntity:
    """The switcher: another entity for the rest of this admin's session. Not allowed or
    not there: refused as not found (nothing tells a limited admin it exists)."""
    entity = db.session.get(LegalEntity, entity_id) if entity_id is not None else None
    if entity is None or not may_act_in(user, entity.id):
        raise EntityNotAllowed(_l("This legal entity cannot be chosen."))
    session[SESSION_KEY] = entity.id
    g.admin_entity_id = entity.id
    return entity


def limit_admin(acting_user: User, admin: User, entity_ids: list[int]) -> None:
    """Limit a store admin to some entities (none: all). Flushes, the caller commits."""
    from b2bshop.audit import service as audit

    if admin.role != Role.STORE_ADMIN:
        raise EntityNotAllowed(_l("Only a store admin can be limited to entities."))
    known = set(db.session.scalars(select(LegalEntity.id).where(LegalEntity.id.in_(entity_ids))))
    if known != set(entity_ids):
        raise EntityNotAllowed(_l("This legal entity cannot be chosen."))
    db.session.execute(
        store_admin_entities.delete().where(store_admin_entities.c.user_id == admin.id)
    )
    if entity_ids:
        db.session.execute(
            store_admin_entities.insert(),
            [{"user_id": admin.id, "legal_entity_id": e} for e in sorted(known)],
        )
    audit.record(
        acting_user,
        "user.entities",
        "user",
        admin.email,
        after={"entities": sorted(known)},
    )
    db.session.flush()
    db.session.expire(admin, ["limited_entities", "limited_entity_ids"])
