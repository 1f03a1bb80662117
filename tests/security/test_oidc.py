"""OpenID Connect bearer JWTs with keys the test generates, the key set served by a real local
HTTP server (and read from a file): what is accepted, what is refused, and how the keys are
fetched when the issuer rotates them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from models.users import Role
from security.oidc import InvalidToken, JwksUnavailable, OidcConfig, OidcVerifier
from tests.security.test_auth import error_code, make_app, make_services
from workflow.services import Services

ISSUER = "https://login.example.test/tenant-1/v2.0"
AUDIENCE = "api://voice-statement"
ROLE_MAP = {"VS.Officer": "officer", "VS.Supervisor": "supervisor"}


@dataclass
class SigningKey:
    kid: str
    private: Any

    def jwk(self, **extra: Any) -> dict[str, Any]:
        algorithm = RSAAlgorithm if isinstance(self.private, rsa.RSAPrivateKey) else ECAlgorithm
        public = algorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "use": "sig", **extra}

    def public_pem(self) -> bytes:
        return bytes(
            self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def rsa_key(kid: str) -> SigningKey:
    return SigningKey(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def key1() -> SigningKey:
    return rsa_key("key-1")


@pytest.fixture(scope="module")
def key2() -> SigningKey:
    return rsa_key("key-2")


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "name": "DS Priya Shah",
        "unit": "north",
        "roles": ["VS.Officer", "supervisor", "Mail.Read"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: SigningKey, body: dict[str, Any], *, alg: str = "RS256", **headers: Any) -> str:
    return jwt.encode(body, key.private, algorithm=alg, headers={"kid": key.kid, **headers})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], body: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(body).encode()), b64(signature)]
    )


# --- a real JWKS endpoint ---------------------------------------------------------------------


@dataclass
class JwksServer:
    url: str
    server: ThreadingHTTPServer
    document: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    requests: int = 0

    def serve(self, *keys: dict[str, Any]) -> None:
        self.document = {"keys": list(keys)}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    holder: list[JwksServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state = holder[0]
            state.requests += 1
            body = json.dumps(state.document).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = JwksServer(url=f"http://127.0.0.1:{server.server_address[1]}/keys", server=server)
    holder.append(state)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    yield state
    state.close()


def verifier(jwks: JwksServer | Path, **config: Any) -> OidcVerifier:
    where: dict[str, Any] = (
        {"jwks_file": jwks} if isinstance(jwks, Path) else {"jwks_url": jwks.url}
    )
    return OidcVerifier(
        OidcConfig(issuer=ISSUER, audience=AUDIENCE, role_map=ROLE_MAP, **where, **config)
    )


# --- what is accepted -------------------------------------------------------------------------


def test_a_valid_token_is_a_principal_with_mapped_roles(
    jwks_server: JwksServer, key1: SigningKey
) -> None:
    jwks_server.serve(key1.jwk())
    principal = verifier(jwks_server).verify(sign(key1, claims()))
    assert principal.user_id == "oidc:AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ"
    assert principal.name == "DS Priya Shah"
    assert principal.unit == "north"
    assert principal.via == "oidc"
    # VS.Officer mapped, "supervisor" taken as it is, "Mail.Read" ignored.
    assert principal.roles == frozenset({Role.OFFICER, Role.SUPERVISOR})


def test_roles_may_be_a_space_separated_string_or_a_nested_claim(
    jwks_server: JwksServer, key1: SigningKey
) -> None:
    jwks_server.serve(key1.jwk())
    spaced = verifier(jwks_server).verify(sign(key1, claims(roles="VS.Supervisor admin junk")))
    assert spaced.roles == frozenset({Role.SUPERVISOR, Role.ADMIN})
    nested = verifier(jwks_server, roles_claim="realm_access.roles").verify(
        sign(key1, claims(roles=None, realm_access={"roles": ["case_builder"]}))
    )
    assert nested.roles == frozenset({Role.CASE_BUILDER})


def test_a_token_with_no_known_role_is_a_principal_with_none(
    jwks_server: JwksServer, key1: SigningKey
) -> None:
    jwks_server.serve(key1.jwk())
    principal = verifier(jwks_server).verify(sign(key1, claims(roles=["Mail.Read"], name=None)))
    assert principal.roles == frozenset()
    assert principal.name == principal.user_id.removeprefix("oidc:")  # no name: the subject


def test_the_key_set_may_be_a_file(tmp_path: Path, key1: SigningKey, key2: SigningKey) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [key1.jwk(), key2.jwk()]}))
    check = verifier(path)
    assert check.verify(sign(key2, claims())).roles == {Role.OFFICER, Role.SUPERVISOR}
    with pytest.raises(InvalidToken):
        check.verify(sign(key1, claims(), kid="key-2"))  # key-1's signature, key-2's id


def test_an_ec_key_verifies_when_es256_is_allowed(jwks_server: JwksServer) -> None:
    key = SigningKey("ec-1", ec.generate_private_key(ec.SECP256R1()))
    jwks_server.serve(key.jwk())
    token = sign(key, claims(), alg="ES256")
    assert verifier(jwks_server, algorithms=("RS256", "ES256")).verify(token).via == "oidc"
    with pytest.raises(InvalidToken, match="not allowed"):
        verifier(jwks_server).verify(token)  # RS256 only


# --- what is refused --------------------------------------------------------------------------


def test_expiry_is_checked_with_the_leeway(jwks_server: JwksServer, key1: SigningKey) -> None:
    jwks_server.serve(key1.jwk())
    check = verifier(jwks_server, leeway_s=30)
    now = int(time.time())
    assert check.verify(sign(key1, claims(exp=now - 10, iat=now - 700, nbf=now - 700)))
    with pytest.raises(InvalidToken) as caught:
        check.verify(sign(key1, claims(exp=now - 60, iat=now - 700, nbf=now - 700)))
    assert caught.value.code == "token_expired"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "api://another-app"}, "audience"),
        ({"iss": "https://login.example.test/tenant-2/v2.0"}, "issuer"),
        ({"nbf": int(time.time()) + 3600}, "not valid yet"),
        ({"iat": int(time.time()) + 3600}, "not valid yet"),
        ({"exp": None}, "claim"),
        ({"sub": None}, "claim"),
    ],
)
def test_wrong_claims_are_refused(
    jwks_server: JwksServer, key1: SigningKey, overrides: dict[str, Any], reason: str
) -> None:
    jwks_server.serve(key1.jwk())
    with pytest.raises(InvalidToken, match=reason) as caught:
        verifier(jwks_server).verify(sign(key1, claims(**overrides)))
    assert caught.value.code == "invalid_token"


def test_a_token_signed_by_another_key_is_refused(
    jwks_server: JwksServer, key1: SigningKey, key2: SigningKey
) -> None:
    jwks_server.serve(key1.jwk())
    with pytest.raises(InvalidToken, match="signature"):
        # key-2's private key, claiming to be key-1
        verifier(jwks_server).verify(sign(key2, claims(), kid="key-1"))


def test_alg_none_is_refused(jwks_server: JwksServer, key1: SigningKey) -> None:
    jwks_server.serve(key1.jwk())
    check = verifier(jwks_server)
    for alg in ("none", "None", "NONE"):
        with pytest.raises(InvalidToken, match="not allowed"):
            check.verify(unsigned({"alg": alg, "typ": "JWT", "kid": "key-1"}, claims()))


def test_hs256_signed_with_the_public_key_is_refused(
    jwks_server: JwksServer, key1: SigningKey
) -> None:
    """The classic key-confusion attack: an HMAC whose secret is the issuer's public key."""
    jwks_server.serve(key1.jwk())
    header = {"alg": "HS256", "typ": "JWT", "kid": "key-1"}
    for secret in (key1.public_pem(), json.dumps(key1.jwk()).encode()):
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims()).encode())}"
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        with pytest.raises(InvalidToken, match="not allowed"):
            verifier(jwks_server).verify(f"{signing_input}.{b64(mac)}")
        # Even a deployment that lists HS256 cannot be made to accept it: it is refused at
        # configuration.
    with pytest.raises(ValueError, match="asymmetric"):
        verifier(jwks_server, algorithms=("RS256", "HS256"))
    with pytest.raises(ValueError, match="asymmetric"):
        verifier(jwks_server, algorithms=("none",))


def test_a_symmetric_key_in_the_key_set_is_never_used(
    jwks_server: JwksServer, key1: SigningKey
) -> None:
    secret = b"s" * 32
    jwks_server.serve({"kty": "oct", "kid": "shared", "k": b64(secret)}, key1.jwk())
    check = verifier(jwks_server)
    assert check.verify(sign(key1, claims())).via == "oidc"
    with pytest.raises(InvalidToken, match="not allowed"):
        check.verify(jwt.encode(claims(), secret, algorithm="HS256", headers={"kid": "shared"}))
    # Not even as a key for an allowed algorithm: it is not loaded at all.
    with pytest.raises(InvalidToken, match="not one the issuer publishes"):
        check.verify(sign(key1, claims(), kid="shared"))


def test_garbage_is_refused(jwks_server: JwksServer, key1: SigningKey) -> None:
    jwks_server.serve(key1.jwk())
    for token in ("not-a-jwt", "a.b.c", sign(key1, claims())[:-5]):
        with pytest.raises(InvalidToken):
            verifier(jwks_server).verify(token)


# --- fetching the keys ------------------------------------------------------------------------


def test_an_unknown_key_id_fetches_the_keys_again_once(
    jwks_server: JwksServer, key1: SigningKey, key2: SigningKey
) -> None:
    jwks_server.serve(key1.jwk())
    check = verifier(jwks_server, refetch_interval_s=60)
    for _ in range(3):
        check.verify(sign(key1, claims()))
    assert jwks_server.requests == 1  # fetched once, then cached

    jwks_server.serve(key2.jwk())  # the issuer rotates its keys
    assert check.verify(sign(key2, claims())).name == "DS Priya Shah"
    assert jwks_server.requests == 2  # one refetch for the new key id

    # Made-up key ids do not make the service hammer the issuer: within the interval, no fetch.
    for kid in ("made-up-1", "made-up-2", "made-up-3"):
        with pytest.raises(InvalidToken, match="not one the issuer publishes"):
            check.verify(sign(key1, claims(), kid=kid))
    assert jwks_server.requests == 2
    # key-1 was retired by the rotation: refused now.
    with pytest.raises(InvalidToken):
        check.verify(sign(key1, claims()))
    assert jwks_server.requests == 2


def test_refetches_resume_after_the_interval(
    jwks_server: JwksServer, key1: SigningKey, key2: SigningKey
) -> None:
    jwks_server.serve(key1.jwk())
    check = verifier(jwks_server, refetch_interval_s=0.2)
    check.verify(sign(key1, claims()))
    with pytest.raises(InvalidToken):
        check.verify(sign(key2, claims()))  # refetched, still not published
    assert jwks_server.requests == 2
    jwks_server.serve(key1.jwk(), key2.jwk())
    with pytest.raises(InvalidToken):
        check.verify(sign(key2, claims()))  # inside the interval: no fetch
    assert jwks_server.requests == 2
    time.sleep(0.25)
    assert check.verify(sign(key2, claims())).via == "oidc"
    assert jwks_server.requests == 3


def test_stale_keys_are_fetched_again(jwks_server: JwksServer, key1: SigningKey) -> None:
    jwks_server.serve(key1.jwk())
    check = verifier(jwks_server, jwks_ttl_s=0.1)
    check.verify(sign(key1, claims()))
    time.sleep(0.15)
    check.verify(sign(key1, claims()))
    assert jwks_server.requests == 2


def test_an_unreachable_key_set_is_unavailable_not_invalid(key1: SigningKey) -> None:
    check = OidcVerifier(
        OidcConfig(
            issuer=ISSUER, audience=AUDIENCE, jwks_url="http://127.0.0.1:9/keys", http_timeout_s=2
        )
    )
    with pytest.raises(JwksUnavailable, match=r"127\.0\.0\.1:9/"):
        check.verify(sign(key1, claims()))


# --- configuration ----------------------------------------------------------------------------


def test_configuration_from_settings(tmp_path: Path, key1: SigningKey) -> None:
    from workflow.settings import Settings

    assert OidcVerifier.from_settings(Settings(data_dir=tmp_path)) is None
    with pytest.raises(ValueError, match="oidc_audience"):
        OidcVerifier.from_settings(
            Settings(data_dir=tmp_path, oidc_issuer=ISSUER, oidc_jwks_url="https://x/keys")
        )
    with pytest.raises(ValueError, match="exactly one"):
        OidcVerifier.from_settings(
            Settings(data_dir=tmp_path, oidc_issuer=ISSUER, oidc_audience=AUDIENCE)
        )
    with pytest.raises(ValueError, match="not roles"):
        OidcVerifier.from_settings(
            Settings(
                data_dir=tmp_path,
                oidc_issuer=ISSUER,
                oidc_audience=AUDIENCE,
                oidc_jwks_url="https://x/keys",
                oidc_role_map={"VS.Boss": "superuser"},
            )
        )


# --- through the API --------------------------------------------------------------------------


@pytest.fixture
def oidc_client(tmp_path: Path, jwks_server: JwksServer) -> Iterator[tuple[TestClient, Services]]:
    services = make_services(
        tmp_path,
        f"sqlite:///{tmp_path / 'voice-statement.db'}",
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks_url=jwks_server.url,
        oidc_role_map=ROLE_MAP,
    )
    with TestClient(make_app(services)) as client:
        yield client, services
    services.close()


def test_the_api_accepts_a_valid_jwt_and_refuses_bad_ones(
    oidc_client: tuple[TestClient, Services],
    jwks_server: JwksServer,
    key1: SigningKey,
    key2: SigningKey,
) -> None:
    client, services = oidc_client
    assert services.oidc is not None
    jwks_server.serve(key1.jwk())

    def call(token: str, path: str = "/api/v1/auth/me") -> Any:
        return client.get(path, headers={"Authorization": f"Bearer {token}"})

    me = call(sign(key1, claims()))
    assert me.status_code == 200, me.text
    assert me.json()["user"] == {
        "id": "oidc:AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        "name": "DS Priya Shah",
        "roles": ["officer", "supervisor"],
        "unit": "north",
        "via": "oidc",
    }
    assert call(sign(key1, claims()), "/api/v1/cases").status_code == 200  # supervisor

    now = int(time.time())
    expired = call(sign(key1, claims(exp=now - 300, iat=now - 900, nbf=now - 900)))
    assert expired.status_code == 401
    assert error_code(expired) == "token_expired"
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]

    for bad in (
        sign(key1, claims(aud="api://another-app")),
        sign(key1, claims(iss="https://evil.example.test")),
        sign(key2, claims(), kid="key-1"),
        unsigned({"alg": "none", "kid": "key-1"}, claims()),
    ):
        response = call(bad)
        assert response.status_code == 401, response.text
        assert error_code(response) == "invalid_token"

    # Known to the issuer, but holding no role of ours: signed in, allowed nothing.
    no_roles = sign(key1, claims(roles=["Mail.Read"]))
    assert call(no_roles).status_code == 200
    assert call(no_roles, "/api/v1/cases").status_code == 403


def test_the_api_answers_503_when_the_keys_cannot_be_fetched(
    oidc_client: tuple[TestClient, Services], jwks_server: JwksServer, key1: SigningKey
) -> None:
    client, _ = oidc_client
    jwks_server.close()
    response = client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {sign(key1, claims())}"}
    )
    assert response.status_code == 503
    assert error_code(response) == "oidc_unavailable"


def test_without_oidc_a_jwt_is_refused(tmp_path: Path, key1: SigningKey) -> None:
    services = make_services(tmp_path, f"sqlite:///{tmp_path / 'voice-statement.db'}")
    try:
        with TestClient(make_app(services)) as client:
            response = client.get(
                "/api/v1/auth/me", headers={"Authorization": f"Bearer {sign(key1, claims())}"}
            )
        assert response.status_code == 401
        assert "not configured" in response.json()["error"]["message"]
    finally:
        services.close()
