"""JWT bearer tokens from an EHR's authorisation server, verified against a JWKS file: the
algorithm suits the key, the lifetime is bounded, Bearer only, every failure a 401, and the
token's issuer and subject name the caller in the audit trail and the request log."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from app.access.tokens import TokenVerifier
from app.main import create_app
from app.platform.db import Database
from app.platform.errors import UnauthenticatedError
from app.platform.settings import Settings
from app.platform.tables import LOCAL_ORGANIZATION_ID

ISSUER = "https://ehr.example.org/auth"
AUDIENCE = "bordin"
SIGNING = rsa.generate_private_key(public_exponent=65537, key_size=2048)
STRANGER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_SIGNING = ec.generate_private_key(ec.SECP256R1())
ED_SIGNING = ed25519.Ed25519PrivateKey.generate()


def _jwks(tmp_path: Path) -> Path:
    """k1: RSA (declared RS256), k2: RSA (any RSA algorithm), e1: EC P-256, o1: Ed25519."""
    rsa_public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(SIGNING.public_key()))
    ec_public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC_SIGNING.public_key()))
    ed_public = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(ED_SIGNING.public_key()))
    jwks = tmp_path / "jwks.json"
    keys = [
        {**rsa_public, "kid": "k1", "use": "sig", "alg": "RS256"},
        {**rsa_public, "kid": "k2", "use": "sig"},
        {**ec_public, "kid": "e1", "use": "sig"},
        {**ed_public, "kid": "o1"},
    ]
    jwks.write_text(json.dumps({"keys": keys}))
    return jwks


@pytest.fixture
def configured(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={"jwt_jwks_file": _jwks(tmp_path), "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE}
    )


@pytest.fixture
def jwt_app(configured: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(configured)) as client:
        yield client


def _token(key: Any = SIGNING, kid: str = "k1", algorithm: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": "ehr-backend", "iat": now, "exp": now + 300,
        "bordin_organization": str(LOCAL_ORGANIZATION_ID), "scope": "records:read scores",
        **claims,
    }  # fmt: skip
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})


def _get(client: TestClient, token: str) -> Any:
    return client.get("/v1/episodes", headers={"Authorization": f"Bearer {token}"})


def test_a_valid_token_opens_what_its_scopes_allow(jwt_app: TestClient) -> None:
    assert _get(jwt_app, _token()).status_code == 200
    created = jwt_app.post(
        "/v1/episodes",
        json={"patient_ref": "p", "clinician_ref": "c"},
        headers={"Authorization": f"Bearer {_token()}"},
    )
    assert created.status_code == 403
    assert created.json()["code"] == "insufficient_scope"


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (lambda: _token(exp=int(time.time()) - 10), "expired"),
        (lambda: _token(aud="another-service"), "audience"),
        (lambda: _token(iss="https://elsewhere.example"), "issuer"),
        (lambda: _token(key=STRANGER), "signature"),
        (lambda: _token(kid="k9"), "JWKS"),
        (lambda: _token(bordin_organization=str(uuid.uuid4())), "unknown"),
        (lambda: _token(bordin_organization="not-a-uuid"), "organisation"),
    ],
    ids=["expired", "audience", "issuer", "signature", "unknown key", "unknown org", "no org"],
)
def test_an_invalid_token_is_a_401_saying_why(jwt_app: TestClient, token: Any, reason: str) -> None:
    response = _get(jwt_app, token())
    assert response.status_code == 401
    assert reason.lower() in response.json()["detail"].lower()
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_token_signed_with_a_shared_secret_is_refused(jwt_app: TestClient) -> None:
    # algorithm confusion: HS256 "signed" with a guessable secret must never pass
    forged = _token(key="a shared secret of thirty-two bytes or more", algorithm="HS256")
    assert _get(jwt_app, forged).status_code == 401


@pytest.mark.parametrize(
    ("key", "kid", "algorithm"),
    [
        (SIGNING, "k2", "RS384"),
        (SIGNING, "k2", "PS256"),
        (EC_SIGNING, "e1", "ES256"),
        (ED_SIGNING, "o1", "EdDSA"),
    ],
    ids=["RSA RS384", "RSA PS256", "EC ES256", "OKP EdDSA"],
)
def test_each_key_type_verifies_tokens_of_its_own_algorithms(
    jwt_app: TestClient, key: Any, kid: str, algorithm: str
) -> None:
    assert _get(jwt_app, _token(key, kid, algorithm)).status_code == 200


@pytest.mark.parametrize(
    ("key", "kid", "algorithm"),
    [
        (SIGNING, "e1", "RS256"),  # an RSA signature under an EC key's kid
        (SIGNING, "e1", "PS256"),
        (SIGNING, "o1", "RS256"),
        (EC_SIGNING, "k2", "ES256"),  # an EC signature under an RSA key's kid
        (EC_SIGNING, "o1", "ES256"),
        (ED_SIGNING, "e1", "EdDSA"),
        (ED_SIGNING, "k2", "EdDSA"),
        (SIGNING, "k1", "PS256"),  # k1 declares RS256: only that
        (EC_SIGNING, "e1", "ES384"),  # a P-256 key signs ES256 only
    ],
)
def test_a_token_whose_algorithm_does_not_suit_its_key_is_a_401(
    jwt_app: TestClient, key: Any, kid: str, algorithm: str
) -> None:
    if algorithm == "ES384":
        token = _token(ec.generate_private_key(ec.SECP384R1()), kid, algorithm)
    else:
        token = _token(key, kid, algorithm)
    response = _get(jwt_app, token)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert "algorithm" in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def _segment(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def verifier(tmp_path_factory: pytest.TempPathFactory) -> TokenVerifier:
    return TokenVerifier(
        _jwks(tmp_path_factory.mktemp("jwks")),
        issuer=ISSUER,
        audience=AUDIENCE,
        organization_claim="bordin_organization",
        scope_claim="scope",
        max_lifetime_seconds=3600,
    )


@given(
    header=st.fixed_dictionaries(
        {},
        optional={
            "alg": st.sampled_from(["RS256", "ES256", "EdDSA", "HS256", "none", "PS512"]) | JSON,
            "kid": st.sampled_from(["k1", "k2", "e1", "o1"]) | JSON,
            "crit": JSON,
            "b64": JSON,
            "typ": JSON,
        },
    ),
    payload=st.dictionaries(
        st.sampled_from(["iss", "aud", "sub", "exp", "iat", "nbf", "bordin_organization"]),
        JSON,
    )
    | JSON,
    signature=st.binary(max_size=300),
)
def test_any_forged_token_is_refused_as_unauthenticated_never_a_crash(
    verifier: TokenVerifier, engine: Engine, header: Any, payload: Any, signature: bytes
) -> None:
    token = ".".join((_segment(header), _segment(payload), _segment(signature)))
    with pytest.raises(UnauthenticatedError):
        verifier.verify(token, Database(engine))


CLAIM = st.one_of(
    JSON,
    st.integers(min_value=int(time.time()) - 10**6, max_value=int(time.time()) + 10**6),
    st.sampled_from([ISSUER, AUDIENCE, str(LOCAL_ORGANIZATION_ID), "ehr", "admin"]),
)


@given(
    claims=st.fixed_dictionaries(
        dict.fromkeys(("iss", "aud", "sub", "exp", "iat"), CLAIM),
        optional=dict.fromkeys(("nbf", "bordin_organization", "scope"), CLAIM),
    )
)
def test_a_signed_token_with_any_claims_is_a_principal_or_unauthenticated_never_a_crash(
    verifier: TokenVerifier, engine: Engine, claims: dict[str, Any]
) -> None:
    # signed as they are (PyJWT's own encoder refuses some claims the decoder must face)
    body = json.dumps(claims).encode()
    token = jwt.api_jws.PyJWS().encode(body, SIGNING, algorithm="RS256", headers={"kid": "k1"})
    try:
        principal = verifier.verify(token, Database(engine))
    except UnauthenticatedError:
        return
    assert principal.jwt_subject == claims["sub"]
    assert int(claims["exp"]) - int(claims["iat"]) <= 3600


@pytest.mark.parametrize("scheme", ["Basic", "Token", "JWT", "Bearer:", "Negotiate"])
def test_a_token_under_any_scheme_but_bearer_is_a_401(jwt_app: TestClient, scheme: str) -> None:
    response = jwt_app.get("/v1/episodes", headers={"Authorization": f"{scheme} {_token()}"})
    assert response.status_code == 401
    assert "Bearer scheme" in response.json()["detail"]
    assert response.headers["www-authenticate"] == 'Bearer realm="bordin"'


def test_the_bearer_scheme_s_name_is_case_insensitive(jwt_app: TestClient) -> None:
    for scheme in ("bearer", "BEARER"):
        response = jwt_app.get("/v1/episodes", headers={"Authorization": f"{scheme} {_token()}"})
        assert response.status_code == 200, scheme


def test_a_token_living_longer_than_the_maximum_is_a_401(jwt_app: TestClient) -> None:
    now = int(time.time())
    assert _get(jwt_app, _token(iat=now - 100, exp=now - 100 + 3600)).status_code == 200
    response = _get(jwt_app, _token(iat=now - 100, exp=now - 100 + 3601))
    assert response.status_code == 401
    assert "3601 s" in response.json()["detail"]
    year = _get(jwt_app, _token(iat=now, exp=now + 365 * 86400))
    assert year.status_code == 401


def test_the_maximum_lifetime_is_a_setting(configured: Settings) -> None:
    now = int(time.time())
    short = configured.model_copy(update={"jwt_max_lifetime_seconds": 60})
    with TestClient(create_app(short)) as client:
        assert _get(client, _token(iat=now, exp=now + 60)).status_code == 200
        assert _get(client, _token(iat=now, exp=now + 61)).status_code == 401


def test_a_token_without_iat_is_a_401(jwt_app: TestClient) -> None:
    response = _get(jwt_app, _token(iat=None))
    assert response.status_code == 401
    assert "iat" in response.json()["detail"]


def test_a_token_s_issuer_and_subject_are_in_the_audit_trail_and_the_request_log(
    jwt_app: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    scopes = "records:read records:write admin"
    headers = {"Authorization": f"Bearer {_token(scope=scopes, sub='ehr-backend-7')}"}
    with caplog.at_level(logging.INFO, logger="bordin.requests"):
        created = jwt_app.post(
            "/v1/episodes", json={"patient_ref": "p-jwt", "clinician_ref": "c"}, headers=headers
        )
        read = jwt_app.get(f"/v1/episodes/{created.json()['id']}", headers=headers)
    assert (created.status_code, read.status_code) == (201, 200)
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:  # the whole trail, oldest first: other tests' events come before these
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = jwt_app.get("/v1/audit-events", params=params, headers=headers).json()
        events += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    mine = [e for e in events if e["resource_id"] == created.json()["id"]]
    assert [(e["action"], e["key_id"], e["jwt_issuer"], e["jwt_subject"]) for e in mine] == [
        ("createEpisode", None, ISSUER, "ehr-backend-7"),  # written by the use case
        ("getEpisode", None, ISSUER, "ehr-backend-7"),  # written by the request layer
    ]
    lines = [r for r in caplog.records if r.name == "bordin.requests"]
    assert {(r.jwt_issuer, r.jwt_subject) for r in lines} == {(ISSUER, "ehr-backend-7")}  # type: ignore[attr-defined]
    assert "p-jwt" not in caplog.text


def test_tokens_are_refused_when_no_jwks_is_configured(client: TestClient) -> None:
    assert _get(client, _token()).status_code == 401


def test_the_jwks_needs_an_issuer_and_an_audience(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="JWT_ISSUER and JWT_AUDIENCE"):
        Settings(jwt_jwks_file=tmp_path / "jwks.json")
