"""keyed address hashes: suppression rows re-keyed with HMAC where the address is still known

Suppression and erasure rows kept a bare SHA-256 of the address, which anyone can reverse by
hashing guesses. New rows carry HMAC-SHA256 keyed from LEADFLOW_SECRET_KEY (see
``leadflow.leads.consent.address_hash``). A row can only be re-keyed where the address is still
known: suppression rows of leads that still have their address (unsubscribed, bounced) are
re-keyed here, with the secret key this migration runs under. Rows of erased addresses cannot
be, and keep matching through the legacy fallback check; erasure proofs keep their old hash.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 08:45:00
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The formulas as of this revision (frozen here: later code may change, this must not).
def _legacy(email: str) -> str:
    return hashlib.sha256(f"leadflow.suppression:{email.strip().lower()}".encode()).hexdigest()


def _keyed(email: str) -> str:
    from leadflow.config import get_settings

    secret = get_settings().secret_key.get_secret_value().encode()
    key = hmac.new(secret, b"leadflow.suppression", hashlib.sha256).digest()
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()


def _rehash(old_of: object, new_of: object) -> None:
    conn = op.get_bind()
    emails = [row[0] for row in conn.execute(sa.text(
        "SELECT email FROM lead WHERE email IS NOT NULL"))]
    have = {row[0] for row in conn.execute(sa.text("SELECT address_hash FROM suppression"))}
    for email in emails:
        old, new = old_of(email), new_of(email)  # type: ignore[operator]
        if old not in have:
            continue
        if new in have:
            conn.execute(sa.text("DELETE FROM suppression WHERE address_hash = :h"), {"h": old})
        else:
            conn.execute(sa.text("UPDATE suppression SET address_hash = :new "
                                 "WHERE address_hash = :old"), {"new": new, "old": old})
            have.add(new)
        have.discard(old)


def upgrade() -> None:
    _rehash(_legacy, _keyed)


def downgrade() -> None:
    _rehash(_keyed, _legacy)
