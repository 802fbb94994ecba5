"""Signed JWT bearer tokens, for EHRs whose authorisation server issues them (in the style of
SMART Backend Services): verified against a JWKS file the deployment configures. Claims name
the organisation (`JWT_ORGANIZATION_CLAIM`, a Bordin organisation id) and the scopes
(`JWT_SCOPE_CLAIM`, space-separated Bordin scope names)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import jwt

from app import store
from app.db import Database
from app.errors import UnauthenticatedError
from app.keys import SCOPES, Principal

# Asymmetric signatures only: never "none", never a shared secret.
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


class TokenVerifier:
    def __init__(
        self,
        jwks_file: Path,
        *,
        issuer: str,
        audience: str,
        organization_claim: str,
        scope_claim: str,
    ) -> None:
        self.keys = jwt.PyJWKSet.from_dict(json.loads(jwks_file.read_text(encoding="utf-8")))
        self.issuer = issuer
        self.audience = audience
        self.organization_claim = organization_claim
        self.scope_claim = scope_claim

    def verify(self, token: str, database: Database) -> Principal:
        """The caller a token names, or a 401 problem saying why not."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            signing_key = next(key for key in self.keys.keys if key.key_id == kid)
            claims = jwt.decode(
                token,
                signing_key.key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except StopIteration:
            raise UnauthenticatedError("the token's signing key is not in the JWKS") from None
        except jwt.PyJWTError as error:
            raise UnauthenticatedError(f"invalid token: {error}") from None
        try:
            organization_id = uuid.UUID(str(claims[self.organization_claim]))
        except (KeyError, ValueError):
            raise UnauthenticatedError(
                f"the token names no organisation in {self.organization_claim!r}"
            ) from None
        with database.session() as session:
            if store.get_organization(session, organization_id) is None:
                raise UnauthenticatedError("the token's organisation is unknown")
        scopes = frozenset(str(claims.get(self.scope_claim, "")).split()) & set(SCOPES)
        return Principal(
            organization_id, None, scopes, subject=f"jwt:{self.issuer}/{claims['sub']}"
        )
