"""JWT bearer tokens from an EHR's authorisation server, verified against a JWKS file."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.tables import LOCAL_ORGANIZATION_ID

ISSUER = "https://ehr.example.org/auth"
AUDIENCE = "bordin"
SIGNING = rsa.generate_private_key(public_exponent=65537, key_size=2048)
STRANGER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def jwt_app(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(SIGNING.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    configured = settings.model_copy(
        update={"jwt_jwks_file": jwks, "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE}
    )
    with TestClient(create_app(configured)) as client:
        yield client


def _token(key: Any = SIGNING, kid: str = "k1", algorithm: str = "RS256", **claims: Any) -> str:
    payload = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": "ehr-backend", "exp": int(time.time()) + 300,
        "bordin_organization": str(LOCAL_ORGANIZATION_ID), "scope": "records:read scores",
        **claims,
    }  # fmt: skip
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


def test_tokens_are_refused_when_no_jwks_is_configured(client: TestClient) -> None:
    assert _get(client, _token()).status_code == 401


def test_the_jwks_needs_an_issuer_and_an_audience(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="JWT_ISSUER and JWT_AUDIENCE"):
        Settings(jwt_jwks_file=tmp_path / "jwks.json")
