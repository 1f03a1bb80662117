"""OpenID Connect bearer tokens (e.g. Microsoft Entra ID): verify a JWT, make it a principal.

What is checked: the signature, against the issuer's published keys (a JWKS fetched from
``oidc_jwks_url`` or read from ``oidc_jwks_file``) and only with an algorithm on the allow-list
(asymmetric ones only: never ``none``, never an HMAC keyed with a public key); the issuer; the
audience (this service); expiry, not-before and issued-at, with a small leeway for clock skew.
Roles come from a configurable claim, mapped through ``oidc_role_map``; a value that maps to no
role of ours is ignored, so a token with none yields a principal with no roles (routes then
answer 403, not 401: the caller is known but may do nothing here).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidIssuedAtError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidTokenError,
    MissingRequiredClaimError,
    PyJWKError,
)

from models.users import Principal, Role

# Which key type each allowed algorithm needs (an RSA key never verifies an EC or HMAC token).
ALGORITHM_KEY_TYPES = {
    "RS256": "RSA",
    "RS384": "RSA",
    "RS512": "RSA",
    "PS256": "RSA",
    "PS384": "RSA",
    "PS512": "RSA",
    "ES256": "EC",
    "ES384": "EC",
    "ES512": "EC",
    "EdDSA": "OKP",
}
USER_ID_PREFIX = "oidc:"
MAX_SUB_LENGTH = 190  # user ids are stored in 200-character columns, prefix included


class InvalidToken(Exception):
    """A bearer JWT that is not accepted. ``code`` is ``token_expired`` or ``invalid_token``
    (as RFC 6750 names them); ``reason`` says what was wrong, for the caller and the log."""

    def __init__(self, reason: str, *, code: str = "invalid_token") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class JwksUnavailable(Exception):
    """The issuer's keys could not be had: no token can be checked until they can."""


class OidcSettings(Protocol):
    """The settings ``OidcVerifier.from_settings`` reads (``workflow.settings.Settings`` has
    them; ``security`` does not import ``workflow``)."""

    @property
    def oidc_issuer(self) -> str | None: ...
    @property
    def oidc_audience(self) -> str | None: ...
    @property
    def oidc_jwks_url(self) -> str | None: ...
    @property
    def oidc_jwks_file(self) -> Path | None: ...
    @property
    def oidc_algorithms(self) -> Sequence[str]: ...
    @property
    def oidc_roles_claim(self) -> str: ...
    @property
    def oidc_unit_claim(self) -> str: ...
    @property
    def oidc_name_claim(self) -> str: ...
    @property
    def oidc_role_map(self) -> Mapping[str, str]: ...
    @property
    def oidc_leeway_s(self) -> int: ...


@dataclass(frozen=True)
class OidcConfig:
    """What a deployment configures.

    roles_claim, unit_claim, name_claim: claim names; a dotted name reaches into an object
    (``realm_access.roles``). role_map: claim value -> role value, for directories whose role
    names differ (``{"VS.Officer": "officer"}``); a value not in the map is tried as a role name.
    leeway_s: clock skew tolerated on exp, nbf and iat.
    jwks_ttl_s: how long fetched keys are used before they are fetched again.
    refetch_interval_s: the least time between two fetches caused by an unknown key id, so that
    tokens with made-up key ids cannot make the service hammer the issuer.
    http_timeout_s: how long one fetch of the JWKS may take.
    """

    issuer: str
    audience: str
    jwks_url: str | None = None
    jwks_file: Path | None = None
    algorithms: tuple[str, ...] = ("RS256",)
    roles_claim: str = "roles"
    unit_claim: str = "unit"
    name_claim: str = "name"
    role_map: Mapping[str, str] = field(default_factory=dict)
    leeway_s: float = 30
    jwks_ttl_s: float = 60 * 60
    refetch_interval_s: float = 60
    http_timeout_s: float = 5

    def __post_init__(self) -> None:
        if not self.issuer:
            raise ValueError("oidc_issuer is empty")
        if not self.audience:
            raise ValueError(
                "oidc_audience must be set with oidc_issuer: without it a token the issuer made "
                "for any other application would be accepted here"
            )
        if (self.jwks_url is None) == (self.jwks_file is None):
            raise ValueError("set exactly one of oidc_jwks_url and oidc_jwks_file")
        if self.jwks_url is not None and not self.jwks_url.startswith(("https://", "http://")):
            raise ValueError(f"oidc_jwks_url is not an http(s) URL: {self.jwks_url!r}")
        if not self.algorithms:
            raise ValueError("oidc_algorithms is empty")
        wrong = [alg for alg in self.algorithms if alg not in ALGORITHM_KEY_TYPES]
        if wrong:
            raise ValueError(
                f"oidc_algorithms may hold only asymmetric signature algorithms "
                f"({', '.join(ALGORITHM_KEY_TYPES)}), not {', '.join(wrong)}: a JWKS publishes "
                "public keys, and 'none' or an HMAC keyed with one would let anyone sign"
            )
        known = {role.value for role in Role}
        unknown = sorted(set(self.role_map.values()) - known)
        if unknown:
            raise ValueError(
                f"oidc_role_map maps to {', '.join(unknown)}, which are not roles "
                f"({', '.join(sorted(known))})"
            )


class OidcVerifier:
    """Verifies bearer JWTs of one issuer. Thread-safe; build one per process and keep it (the
    keys it has fetched are cached in it)."""

    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self._keys: dict[str | None, dict[str, Any]] = {}
        self._fetched_at: float | None = None  # monotonic time of the last successful load
        self._last_refetch: float | None = None  # of the last load caused by an unknown kid
        self._prepared: dict[tuple[str | None, str], jwt.PyJWK] = {}
        self._lock = threading.Lock()
        self.fetches = 0  # how many times the keys were loaded (for operators and tests)

    @classmethod
    def from_settings(cls, settings: OidcSettings) -> OidcVerifier | None:
        """A verifier for the configured issuer, or None when none is configured (local
        accounts only). Raises ValueError naming what is missing or unsafe."""
        if not settings.oidc_issuer:
            return None
        return cls(
            OidcConfig(
                issuer=settings.oidc_issuer,
                audience=settings.oidc_audience or "",
                jwks_url=settings.oidc_jwks_url,
                jwks_file=settings.oidc_jwks_file,
                algorithms=tuple(settings.oidc_algorithms),
                roles_claim=settings.oidc_roles_claim,
                unit_claim=settings.oidc_unit_claim,
                name_claim=settings.oidc_name_claim,
                role_map=dict(settings.oidc_role_map),
                leeway_s=settings.oidc_leeway_s,
            )
        )

    # --- keys ---------------------------------------------------------------------------------

    def _load(self) -> dict[str | None, dict[str, Any]]:
        """Read the JWKS document: signing keys by key id (None for a key without one)."""
        config = self.config
        try:
            if config.jwks_file is not None:
                document = json.loads(config.jwks_file.read_text(encoding="utf-8"))
            else:
                assert config.jwks_url is not None
                response = httpx.get(
                    config.jwks_url, timeout=config.http_timeout_s, follow_redirects=False
                )
                response.raise_for_status()
                document = response.json()
        except (OSError, ValueError, httpx.HTTPError) as exc:
            where = config.jwks_file or config.jwks_url
            raise JwksUnavailable(
                f"cannot read the OpenID Connect keys from {where}: {exc}"
            ) from exc
        keys: dict[str | None, dict[str, Any]] = {}
        entries = document.get("keys") if isinstance(document, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            # Symmetric keys have no place in a published key set, and encryption keys do not
            # verify signatures.
            if not isinstance(entry, dict) or entry.get("kty") not in {"RSA", "EC", "OKP"}:
                continue
            if entry.get("use", "sig") != "sig":
                continue
            kid = entry.get("kid")
            keys[kid if isinstance(kid, str) else None] = entry
        if not keys:
            where = config.jwks_file or config.jwks_url
            raise JwksUnavailable(f"the OpenID Connect key set at {where} holds no signing key")
        self.fetches += 1
        return keys

    def _key(self, kid: str | None) -> dict[str, Any] | None:
        """The published key with this id, fetching the key set when it is stale or, at most
        once per refetch interval, when the id is not in it (the issuer rotated its keys)."""
        with self._lock:
            now = time.monotonic()
            stale = self._fetched_at is None or now - self._fetched_at >= self.config.jwks_ttl_s
            if stale:
                try:
                    self._replace(self._load(), now)
                except JwksUnavailable:
                    if not self._keys:
                        raise
                    # The issuer is unreachable for now: keep the keys we have, try again
                    # after the refetch interval rather than on every request.
                    self._fetched_at = now - self.config.jwks_ttl_s + self.config.refetch_interval_s
            found = self._find(kid)
            if found is not None or stale:
                return found
            if (
                self._last_refetch is not None
                and now - self._last_refetch < self.config.refetch_interval_s
            ):
                return None
            self._last_refetch = now
            self._replace(self._load(), now)
            return self._find(kid)

    def _replace(self, keys: dict[str | None, dict[str, Any]], now: float) -> None:
        self._keys = keys
        self._prepared.clear()
        self._fetched_at = now

    def _find(self, kid: str | None) -> dict[str, Any] | None:
        if kid is not None:
            return self._keys.get(kid)
        # A token without a key id is accepted only when the issuer publishes one key.
        return next(iter(self._keys.values())) if len(self._keys) == 1 else None

    def _prepared_key(self, kid: str | None, alg: str) -> jwt.PyJWK:
        entry = self._key(kid)
        if entry is None:
            raise InvalidToken(f"the token's signing key ({kid}) is not one the issuer publishes")
        if entry.get("kty") != ALGORITHM_KEY_TYPES[alg]:
            raise InvalidToken(f"the token's algorithm {alg} does not fit its {entry['kty']} key")
        if entry.get("alg") not in (None, alg):
            raise InvalidToken(f"the key {kid} is for {entry['alg']}, the token says {alg}")
        with self._lock:
            prepared = self._prepared.get((kid, alg))
            if prepared is None:
                try:
                    prepared = jwt.PyJWK(entry, algorithm=alg)
                except PyJWKError as exc:
                    raise InvalidToken(f"the issuer's key {kid} cannot be used: {exc}") from exc
                self._prepared[(kid, alg)] = prepared
            return prepared

    # --- tokens -------------------------------------------------------------------------------

    def verify(self, token: str) -> Principal:
        """The principal a bearer JWT stands for; InvalidToken when it is not accepted,
        JwksUnavailable when the issuer's keys cannot be read."""
        config = self.config
        try:
            header = jwt.get_unverified_header(token)
        except InvalidTokenError as exc:
            raise InvalidToken(f"the bearer token is not a JWT: {exc}") from exc
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in config.algorithms:
            allowed = ", ".join(config.algorithms)
            raise InvalidToken(f"the token's algorithm {alg!r} is not allowed (only {allowed})")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("the token's key id is not a string")
        key = self._prepared_key(kid, alg)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=config.audience,
                issuer=config.issuer,
                leeway=config.leeway_s,
                options={"require": ["exp", "iat", "iss", "aud", "sub"], "strict_aud": False},
            )
        except ExpiredSignatureError as exc:
            raise InvalidToken("the token has expired", code="token_expired") from exc
        except InvalidAudienceError as exc:
            raise InvalidToken(f"the token is not for this service (audience): {exc}") from exc
        except InvalidIssuerError as exc:
            raise InvalidToken(f"the token is from another issuer: {exc}") from exc
        except InvalidSignatureError as exc:
            raise InvalidToken("the token's signature does not verify") from exc
        except ImmatureSignatureError as exc:
            raise InvalidToken(f"the token is not valid yet: {exc}") from exc
        except (MissingRequiredClaimError, InvalidIssuedAtError) as exc:
            raise InvalidToken(f"the token lacks a claim it needs: {exc}") from exc
        except InvalidAlgorithmError as exc:
            raise InvalidToken(f"the token's algorithm is not allowed: {exc}") from exc
        except InvalidTokenError as exc:
            raise InvalidToken(f"the token is not valid: {exc}") from exc
        return self.principal(claims)

    def principal(self, claims: Mapping[str, Any]) -> Principal:
        """The principal verified claims stand for."""
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > MAX_SUB_LENGTH:
            raise InvalidToken("the token's subject (sub) is missing or too long")
        name = _text(_claim(claims, self.config.name_claim))
        name = name or _text(claims.get("preferred_username")) or sub
        return Principal(
            user_id=USER_ID_PREFIX + sub,
            name=name[:200],
            roles=self.roles(_claim(claims, self.config.roles_claim)),
            unit=_text(_claim(claims, self.config.unit_claim))[:100] or None,
            via="oidc",
        )

    def roles(self, value: Any) -> frozenset[Role]:
        """Our roles in a roles claim: a list of names, or one space-separated string."""
        if isinstance(value, str):
            names = value.split()
        elif isinstance(value, list):
            names = [item for item in value if isinstance(item, str)]
        else:
            names = []
        known = {role.value for role in Role}
        mapped = (self.config.role_map.get(name, name) for name in names)
        return frozenset(Role(name) for name in mapped if name in known)


def _claim(claims: Mapping[str, Any], name: str) -> Any:
    """A claim by name; a dotted name reaches into nested objects (Keycloak's
    ``realm_access.roles``). An exact top-level match wins (Entra has dotted claim names)."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: Any) -> str:
    """A claim as a single line of text ('' when it is not a string)."""
    if not isinstance(value, str):
        return ""
    return " ".join(value.split())[:200]
