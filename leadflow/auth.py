"""API keys: one role each (admin, marketer, sales); only a hash of the key is stored."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from leadflow.config import get_settings
from leadflow.errors import Forbidden, Invalid, NotFound, Unauthorized
from leadflow.models import ApiKey, Rep, utcnow

__all__ = ["ROLES", "Principal", "admin_principal", "authenticate", "create_key", "key_json",
           "list_keys", "new_key_json", "require_role", "revoke_key"]

log = logging.getLogger(__name__)
ROLES = ("admin", "marketer", "sales")
KEY_PREFIX = "lf_"
# ``last_used_at`` is refreshed at most this often: a busy key must not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


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
    return issue_key(session, role=role, rep_id=rep_id, label=label)[1]


def issue_key(session: Session, *, role: str, rep_id: str | None = None,
              label: str | None = None) -> tuple[ApiKey, str]:
    """Create a key: its row and the key in clear (shown once; only its hash is kept)."""
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
    row = ApiKey(key_hash=_hash(key), prefix=key[:8], role=role, rep_id=rep_id, label=label)
    session.add(row)
    session.flush()
    return row, key


def new_key_json(session: Session, *, role: str, rep_id: str | None = None,
                 label: str | None = None) -> dict[str, Any]:
    """``POST /api/keys``: a new key as the API shows it, with ``key`` in clear this once."""
    row, key = issue_key(session, role=role, rep_id=rep_id, label=label)
    rep = session.get(Rep, row.rep_id) if row.rep_id else None
    return {**key_json(row, rep.name if rep else None), "key": key}


def key_json(row: ApiKey, rep_name: str | None = None) -> dict[str, Any]:
    """A key as the API shows it: never the secret, nor its hash."""
    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None
    return {"id": row.id, "role": row.role, "rep_id": row.rep_id, "rep_name": rep_name,
            "label": row.label, "prefix": row.prefix, "created_at": iso(row.created_at),
            "last_used_at": iso(row.last_used_at), "revoked_at": iso(row.revoked_at)}


def list_keys(session: Session) -> list[dict[str, Any]]:
    """Every key issued, newest first, revoked ones included (with ``revoked_at``)."""
    rows = session.exec(select(ApiKey).order_by(ApiKey.created_at.desc())).all()  # type: ignore[attr-defined]
    reps = {r.id: r.name for r in session.exec(select(Rep)).all()}
    return [key_json(row, reps.get(row.rep_id or "")) for row in rows]


def revoke_key(session: Session, key_id: str) -> ApiKey:
    """Revoke a key: it answers 401 from the next request on. Revoking twice is harmless.

    Raises:
        NotFound: no key has this id.
    """
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"There is no API key {key_id!r}.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
    return row


def _bearer_key(authorization: str | None) -> str:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized("Send your API key as 'Authorization: Bearer <key>'.")
    return authorization[7:].strip()


def _is_admin_key(key: str) -> bool:
    admin = get_settings().admin_key
    # bytes: compare_digest refuses str with characters beyond ASCII (a stranger's header)
    return admin is not None and hmac.compare_digest(key.encode("utf-8", "surrogateescape"),
                                                     admin.get_secret_value().encode())


def admin_principal(authorization: str | None) -> Principal | None:
    """The admin, when the header carries the configured admin key (no database needed);
    None for any other key, which :func:`authenticate` looks up.

    Raises:
        Unauthorized: no key.
    """
    return Principal(role="admin") if _is_admin_key(_bearer_key(authorization)) else None


def authenticate(session: Session, authorization: str | None) -> Principal:
    """The principal for an ``Authorization: Bearer <key>`` header.

    Raises:
        Unauthorized: no key, or a key nobody issued.
    """
    key = _bearer_key(authorization)
    if _is_admin_key(key):
        return Principal(role="admin")
    # Looked up on every request (no cache): a revoked key is refused from the next request on.
    row = session.exec(select(ApiKey).where(ApiKey.key_hash == _hash(key))).first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("This API key is not valid.")
    principal = Principal(role=row.role, rep_id=row.rep_id, key_id=row.id)
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
        session.add(row)
        try:
            session.commit()
        except SQLAlchemyError:  # a busy database must not turn a valid key away
            session.rollback()
            log.warning("could not record the use of API key %s", principal.key_id)
    return principal


def require_role(principal: Principal, *roles: str) -> Principal:
    if not principal.can(*roles):
        raise Forbidden(f"This needs a {' or '.join(roles)} key; yours is {principal.role}.")
    return principal
