"""Signed JWT bearer tokens, for EHRs whose authorisation server issues them (in the style of
SMART Backend Services): verified against a JWKS file the deployment configures. Claims name
the organisation (`JWT_ORGANIZATION_CLAIM`, a Bordin organisation id) and the scopes
(`JWT_SCOPE_CLAIM`, space-separated Bordin scope names).

A token is signed with an asymmetric algorithm that suits the key its `kid` names (RFC 7518:
an RSA key signs with RS* or PS*, an EC key with the ES* of its curve, an OKP key with EdDSA;
a key that declares its `alg` with that one only), carries `exp`, `iat`, `iss`, `aud` and
`sub`, and lives no longer than `JWT_MAX_LIFETIME_SECONDS` from `iat` to `exp`.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from app.access.keys import SCOPES, Principal
from app.platform import store_access
from app.platform.db import Database
from app.platform.errors import UnauthenticatedError

logger = logging.getLogger("bordin.tokens")
# Asymmetric signatures only: never "none", never a shared secret ("oct" keys sign nothing).
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
OKP_ALGORITHMS = frozenset({"EdDSA"})
# Audit columns hold a subject of at most this many characters.
MAX_SUBJECT_LENGTH = 255


@dataclass(frozen=True)
class SigningKey:
    """A key of the JWKS and the algorithms a token signed by it may name."""

    kid: object
    jwk: jwt.PyJWK
    algorithms: frozenset[str]


def signing_key(raw: dict[str, Any]) -> SigningKey | None:
    """The JWK as a key that verifies signatures, or None if it cannot (an encryption key, a
    symmetric or unsupported one)."""
    if raw.get("use", "sig") != "sig":
        return None
    try:
        jwk = jwt.PyJWK.from_dict(raw)
    except jwt.PyJWTError:
        return None
    kty = raw.get("kty")
    if kty == "RSA":
        algorithms = RSA_ALGORITHMS
    elif kty == "EC" and raw.get("crv") in EC_ALGORITHMS:
        algorithms = frozenset({EC_ALGORITHMS[raw["crv"]]})
    elif kty == "OKP":
        algorithms = OKP_ALGORITHMS
    else:
        return None
    if "alg" in raw:
        algorithms &= {raw["alg"]}
    return SigningKey(raw.get("kid"), jwk, algorithms) if algorithms else None


class TokenVerifier:
    def __init__(
        self,
        jwks_file: Path,
        *,
        issuer: str,
        audience: str,
        organization_claim: str,
        scope_claim: str,
        max_lifetime_seconds: float,
    ) -> None:
        document = json.loads(jwks_file.read_text(encoding="utf-8"))
        found = (signing_key(raw) for raw in document.get("keys", []) if isinstance(raw, dict))
        self.keys = [key for key in found if key is not None]
        if not self.keys:
            raise ValueError(f"{jwks_file} holds no key that verifies signatures (RSA, EC, OKP)")
        self.issuer = issuer
        self.audience = audience
        self.organization_claim = organization_claim
        self.scope_claim = scope_claim
        self.max_lifetime_seconds = max_lifetime_seconds

    def verify(self, token: str, database: Database) -> Principal:
        """The caller a token names, or a 401 problem saying why not."""
        claims = self._verified_claims(token)
        subject = claims["sub"]
        if len(subject) > MAX_SUBJECT_LENGTH:
            raise UnauthenticatedError(f"the token's sub is over {MAX_SUBJECT_LENGTH} characters")
        lifetime = int(claims["exp"]) - int(claims["iat"])  # both checked as integers
        if lifetime > self.max_lifetime_seconds:
            raise UnauthenticatedError(
                f"the token lives {lifetime} s from iat to exp; at most"
                f" {self.max_lifetime_seconds:g} s are accepted"
            )
        try:
            organization_id = uuid.UUID(str(claims[self.organization_claim]))
        except (KeyError, ValueError):
            raise UnauthenticatedError(
                f"the token names no organisation in {self.organization_claim!r}"
            ) from None
        with database.session() as session:
            if store_access.get_organization(session, organization_id) is None:
                raise UnauthenticatedError("the token's organisation is unknown")
        scopes = frozenset(str(claims.get(self.scope_claim, "")).split()) & set(SCOPES)
        return Principal(
            organization_id,
            None,
            scopes,
            subject=f"jwt:{self.issuer}/{subject}",
            jwt_issuer=self.issuer,
            jwt_subject=subject,
        )

    def _verified_claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise UnauthenticatedError("invalid token: its header is not a JWT header") from None
        kid, algorithm = header.get("kid"), header.get("alg")
        key = next((key for key in self.keys if key.kid == kid), None)
        if key is None:
            raise UnauthenticatedError("the token's signing key is not in the JWKS")
        if not isinstance(algorithm, str) or algorithm not in key.algorithms:
            # Verifying with an algorithm of another key type would hand the library a key it
            # cannot use (RFC 8725 section 3.1: the key decides the algorithm).
            raise UnauthenticatedError(
                "the token's algorithm does not suit its signing key; this key verifies "
                + ", ".join(sorted(key.algorithms))
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.jwk.key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise UnauthenticatedError(f"invalid token: {error}") from None
        except Exception as error:
            # The token is the caller's input to a parser we do not own: whatever else it
            # raises means "not verified". Logged by type only, never the token.
            logger.warning("token verification raised %s", type(error).__name__)
            raise UnauthenticatedError("invalid token") from None
        return claims
