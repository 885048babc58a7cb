"""API keys: one role each (admin, marketer, sales); only a hash of the key is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlmodel import Session, select

from leadflow.config import get_settings
from leadflow.errors import Forbidden, Invalid, Unauthorized
from leadflow.models import ApiKey, Rep

__all__ = ["ROLES", "Principal", "authenticate", "create_key", "require_role"]

ROLES = ("admin", "marketer", "sales")
KEY_PREFIX = "lf_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role, and for a sales key the rep it belongs to."""

    role: str
    rep_id: str | None = None
    key_id: str | None = None

    def can(self, *roles: str) -> bool:
        # An admin may do everything a marketer may.
        return self.role in roles or (self.role == "admin" and "marketer" in roles)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, *, role: str, rep_id: str | None = None,
               label: str | None = None) -> str:
    """Create a key and return it in clear (shown once; only its hash is kept)."""
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}.",
                      problems=[{"path": "role", "message": "Use admin, marketer or sales."}])
    if role == "sales":
        if not rep_id:
            raise Invalid("A sales key belongs to one rep: give rep_id.",
                          problems=[{"path": "rep_id", "message": "A sales key needs rep_id."}])
        if session.get(Rep, rep_id) is None:
            raise Invalid(f"There is no rep {rep_id!r}.",
                          problems=[{"path": "rep_id", "message": f"There is no rep {rep_id!r}."}])
    elif rep_id:
        raise Invalid("Only a sales key names a rep.",
                      problems=[{"path": "rep_id", "message": "Only sales keys have a rep_id."}])
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(key_hash=_hash(key), prefix=key[:8], role=role, rep_id=rep_id, label=label))
    session.flush()
    return key


def authenticate(session: Session, authorization: str | None) -> Principal:
    """The principal for an ``Authorization: Bearer <key>`` header.

    Raises:
        Unauthorized: no key, or a key nobody issued.
    """
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized("Send your API key as 'Authorization: Bearer <key>'.")
    key = authorization[7:].strip()
    admin = get_settings().admin_key
    if admin is not None and hmac.compare_digest(key, admin.get_secret_value()):
        return Principal(role="admin")
    row = session.exec(select(ApiKey).where(ApiKey.key_hash == _hash(key))).first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("This API key is not valid.")
    return Principal(role=row.role, rep_id=row.rep_id, key_id=row.id)


def require_role(principal: Principal, *roles: str) -> Principal:
    if not principal.can(*roles):
        raise Forbidden(f"This needs a {' or '.join(roles)} key; yours is {principal.role}.")
    return principal
