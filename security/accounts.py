"""Local accounts: users, their API tokens, their passwords and their web sessions.

An API token is ``vs_<id>_<secret>``: the 16-hex-digit id finds the row, and only the argon2id
hash of the secret is stored, so a copy of the database gives nobody a working token. A web
session cookie is a random value of which only the SHA-256 is stored (it is already 256 bits of
randomness, so a slow hash would add nothing but latency).

Every function takes an open SQLAlchemy session and leaves committing to its caller, so that
an administrator's change and its audit entry land in the same transaction.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from models.tables import ApiToken, User, WebSession
from models.users import Principal, Role

TOKEN_PREFIX = "vs_"
TOKEN_ID_HEX = 16  # 64 bits: only has to be unique, the secret is what is guessed
TOKEN_SECRET_BYTES = 32  # 256 bits of randomness
SESSION_COOKIE_BYTES = 32
# A password is the only secret a person chooses: twelve characters is the NCSC's floor for a
# password that stands alone. The ceiling bounds the argon2 work one request can ask for.
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 1024
# last_used_at is written at most this often per token: it tells an administrator whether a
# token is in use, and a write on every request would serialise requests on SQLite.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Tokens whose secret was verified recently, so that argon2 (tens of milliseconds by design)
# runs once per token per process rather than on every request.
VERIFIED_CACHE_SIZE = 1024

# A user name is how a person is shown and recorded ("PC 4521 Dawson", "j.smith@force.police.uk"):
# letters and digits of any script, spaces, and . _ @ + ' -. Never "/" or a control character:
# it is a URL path segment in the admin API and a line in the audit log.
NAME_PATTERN = re.compile(r"\w[\w .@+'-]{0,199}")

# argon2id with the library's defaults (RFC 9106's low-memory profile: 64 MiB, 3 passes).
_HASHER = PasswordHasher()


class AccountError(Exception):
    """A request about an account that cannot be done; ``code`` is stable, ``message`` is for a
    person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class _Verified:
    token_id: str
    secret_hash: str  # the row's hash when verified: a re-hashed or replaced row is re-checked


class _VerifiedTokens:
    """SHA-256 of a full token -> the row it was verified against, least recently used first.

    It only ever saves the argon2 check: the row and its user are read from the database on every
    request, so a revocation takes effect at once in every process.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, _Verified] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> _Verified | None:
        with self._lock:
            found = self._entries.get(digest)
            if found is not None:
                self._entries.move_to_end(digest)
            return found

    def put(self, digest: str, verified: _Verified) -> None:
        with self._lock:
            self._entries[digest] = verified
            self._entries.move_to_end(digest)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def discard(self, digest: str) -> None:
        with self._lock:
            self._entries.pop(digest, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_verified = _VerifiedTokens(VERIFIED_CACHE_SIZE)
_dummy_hash_lock = threading.Lock()
_dummy_hash: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _burn_verify(secret: str) -> None:
    """Spend the time a real check would, so that an unknown token id or user name cannot be
    told from a wrong secret by how long the answer takes."""
    global _dummy_hash
    with _dummy_hash_lock:
        if _dummy_hash is None:
            _dummy_hash = _HASHER.hash(secrets.token_urlsafe(TOKEN_SECRET_BYTES))
        dummy = _dummy_hash
    with contextlib.suppress(VerificationError, InvalidHashError):
        _HASHER.verify(dummy, secret)


def _verify(secret_hash: str, secret: str) -> bool:
    try:
        return _HASHER.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def clear_token_cache() -> None:
    """Forget every verified token (the next request of each runs argon2 again)."""
    _verified.clear()


# --- users ----------------------------------------------------------------------------------


def normalise_name(name: str) -> str:
    """A user name as stored and looked up: runs of whitespace made one space, ends trimmed."""
    return " ".join(name.split())


def _clean_name(name: str) -> str:
    name = normalise_name(name)
    if not NAME_PATTERN.fullmatch(name):
        raise AccountError(
            "invalid_name",
            f"{name!r} is not a user name: use 1 to 200 letters, digits, spaces and . _ @ + ' -,"
            " starting with a letter or digit",
        )
    return name


def _clean_unit(unit: str | None) -> str | None:
    if unit is None:
        return None
    unit = " ".join(unit.split())
    if not unit:
        return None
    if len(unit) > 100:
        raise AccountError("invalid_unit", "a unit name has at most 100 characters")
    return unit


def _user(session: Session, name: str) -> User:
    name = normalise_name(name)
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise AccountError("no_such_user", f"there is no user named {name!r}")
    return user


def _active_user(session: Session, name: str) -> User:
    user = _user(session, name)
    if user.revoked_at is not None:
        raise AccountError("user_revoked", f"the user {user.name!r} has been revoked")
    return user


def user_roles(user: User) -> frozenset[Role]:
    """The roles a user row holds; a value this version does not know is ignored."""
    known = {role.value for role in Role}
    return frozenset(Role(value) for value in user.roles or () if value in known)


def principal_for(user: User, *, via: str = "token") -> Principal:
    """The principal a local account acts as (``via``: ``token`` or ``session``)."""
    return Principal(
        user_id=user.id, name=user.name, roles=user_roles(user), unit=user.unit, via=via
    )


def add_user(
    session: Session, name: str, roles: Sequence[Role], unit: str | None
) -> tuple[User, str]:
    """Create an account and its first API token; returns the user and the token, which is shown
    this once and never again (only its hash is kept)."""
    name = _clean_name(name)
    try:
        wanted = sorted({Role(role) for role in roles})
    except ValueError as exc:
        known = ", ".join(role.value for role in Role)
        raise AccountError("invalid_role", f"{exc}; the roles are {known}") from None
    if not wanted:
        known = ", ".join(role.value for role in Role)
        raise AccountError("no_roles", f"a user needs at least one role ({known})")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise AccountError("user_exists", f"a user named {name!r} already exists")
    user = User(
        id=str(uuid.uuid4()),
        name=name,
        roles=[role.value for role in wanted],
        unit=_clean_unit(unit),
        created_at=_now(),
    )
    session.add(user)
    session.flush()
    return user, _new_token(session, user)


def list_users(session: Session) -> list[User]:
    """Every account, revoked ones included, by name (ignoring case, the same on every
    backend whatever its collation)."""
    users = session.scalars(select(User))
    return sorted(users, key=lambda user: (user.name.casefold(), user.name))


def get_user(session: Session, name: str) -> User:
    """The account named ``name``; AccountError ``no_such_user`` when there is none."""
    return _user(session, name)


def revoke_user(session: Session, name: str) -> User:
    """Revoke an account: it, every token it holds and every session it has signed in are dead
    from the next request on, in every process. Its enrolled voice print goes too: biometric
    data is kept only while it serves the account it was given for."""
    user = _user(session, name)
    now = _now()
    if user.revoked_at is None:
        user.revoked_at = now
    user.voice_embedding = None
    user.voice_enrolled_at = None
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    session.flush()
    return user


def set_password(session: Session, name: str, password: str) -> None:
    """Set the password an account signs in to the web pages with (argon2id hash only)."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError(
            "weak_password", f"a password needs at least {PASSWORD_MIN_LENGTH} characters"
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise AccountError(
            "weak_password", f"a password has at most {PASSWORD_MAX_LENGTH} characters"
        )
    user = _active_user(session, name)
    user.password_hash = _HASHER.hash(password)
    # A new password signs out every browser signed in with the old one.
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    session.flush()


# --- API tokens -----------------------------------------------------------------------------


def _new_token(session: Session, user: User) -> str:
    token_id = secrets.token_hex(TOKEN_ID_HEX // 2)
    secret = secrets.token_urlsafe(TOKEN_SECRET_BYTES)
    session.add(
        ApiToken(id=token_id, user_id=user.id, secret_hash=_HASHER.hash(secret), created_at=_now())
    )
    session.flush()
    return f"{TOKEN_PREFIX}{token_id}_{secret}"


def issue_token(session: Session, name: str) -> str:
    """A further API token for an active account (shown once)."""
    return _new_token(session, _active_user(session, name))


def parse_token(token: str) -> tuple[str, str] | None:
    """(id, secret) of a ``vs_<id>_<secret>`` token, or None when it does not have that shape."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    token_id, sep, secret = token[len(TOKEN_PREFIX) :].partition("_")
    if not sep or len(token_id) != TOKEN_ID_HEX or not secret or len(secret) > 200:
        return None
    if any(c not in "0123456789abcdef" for c in token_id):
        return None
    return token_id, secret


def authenticate_token(session: Session, token: str) -> Principal | None:
    """The principal an API token stands for, or None when it is unknown, wrong or revoked."""
    parsed = parse_token(token)
    if parsed is None:
        return None
    token_id, secret = parsed
    digest = _sha256(token)
    row = session.get(ApiToken, token_id)
    cached = _verified.get(digest)
    if row is None:
        if cached is None:
            _burn_verify(secret)
        return None
    if cached is None or cached.token_id != row.id or cached.secret_hash != row.secret_hash:
        if not _verify(row.secret_hash, secret):
            _verified.discard(digest)
            return None
        if _HASHER.check_needs_rehash(row.secret_hash):
            row.secret_hash = _HASHER.hash(secret)
        _verified.put(digest, _Verified(row.id, row.secret_hash))
    # Checked on every request, cache or not: revocation is immediate.
    if row.revoked_at is not None:
        return None
    user = session.get(User, row.user_id)
    if user is None or user.revoked_at is not None:
        return None
    now = _now()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
    return principal_for(user, via="token")


# --- web sessions ---------------------------------------------------------------------------


def login(session: Session, name: str, secret: str, *, ttl_s: float) -> tuple[str, str] | None:
    """Sign a browser in with the account's password or one of its API tokens.

    Returns (cookie value, CSRF token), or None when the name or the secret is wrong or the
    account is revoked (which are not told apart). ttl_s: how long the session lasts.
    """
    user = session.scalar(select(User).where(User.name == normalise_name(name)))
    if user is None or user.revoked_at is not None:
        _burn_verify(secret[:PASSWORD_MAX_LENGTH])
        return None
    if secret.startswith(TOKEN_PREFIX):
        principal = authenticate_token(session, secret)
        if principal is None or principal.user_id != user.id:
            return None
    elif user.password_hash is None or len(secret) > PASSWORD_MAX_LENGTH:
        _burn_verify(secret[:PASSWORD_MAX_LENGTH])
        return None
    elif not _verify(user.password_hash, secret):
        return None
    elif _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(secret)

    now = _now()
    # Housekeeping: sessions past their expiry are only dead weight.
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    cookie = secrets.token_urlsafe(SESSION_COOKIE_BYTES)
    csrf = secrets.token_urlsafe(SESSION_COOKIE_BYTES)
    session.add(
        WebSession(
            id_sha256=_sha256(cookie),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
        )
    )
    session.flush()
    return cookie, csrf


def session_principal(session: Session, cookie_value: str) -> tuple[Principal, str] | None:
    """The principal a session cookie stands for and the session's CSRF token; None when the
    session is unknown, expired or its account revoked."""
    if not cookie_value or len(cookie_value) > 200:
        return None
    row = session.get(WebSession, _sha256(cookie_value))
    if row is None or row.expires_at <= _now():
        return None
    user = session.get(User, row.user_id)
    if user is None or user.revoked_at is not None:
        return None
    return principal_for(user, via="session"), row.csrf_token


def logout(session: Session, cookie_value: str) -> bool:
    """End a web session; True when there was one."""
    if not cookie_value or len(cookie_value) > 200:
        return False
    result = session.execute(
        delete(WebSession).where(WebSession.id_sha256 == _sha256(cookie_value))
    )
    return bool(getattr(result, "rowcount", 0))
