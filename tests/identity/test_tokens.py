"""Token shape: exactly the claims GoTrue issues, signed like Supabase's keys."""

from __future__ import annotations

import jwt
import pytest

from rlsguard.clock import ManualClock
from rlsguard.identity.tokens import (
    API_KEY_EXP,
    CLOCK_SKEW_S,
    AuthUser,
    TokenSigner,
)

# GoTrue's AccessTokenClaims for a password session, in its order (client_id and
# scope only appear for OAuth-server sessions).
GOTRUE_CLAIMS = [
    "aud", "exp", "iat", "iss", "sub", "email", "phone", "app_metadata", "user_metadata",
    "role", "aal", "amr", "session_id", "is_anonymous",
]  # fmt: skip

USER = AuthUser(
    id="0b9f7b1e-3a39-4a8e-9a51-1a1f0f3c0d11",
    email="ada@school.test",
    app_metadata={"provider": "email", "providers": ["email"], "school_id": 1},
    user_metadata={"full_name": "Ada"},
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_900_000_000)


@pytest.fixture
def signer(clock: ManualClock) -> TokenSigner:
    return TokenSigner(clock=clock, issuer="http://127.0.0.1:54321/auth/v1")


def test_user_claims_match_gotrue_shape(signer: TokenSigner, clock: ManualClock) -> None:
    claims = signer.user_claims(USER)
    assert list(claims) == GOTRUE_CLAIMS
    assert claims["aud"] == "authenticated"  # a string, not a list
    assert claims["iat"] == 1_900_000_000
    assert claims["exp"] == claims["iat"] + 3600
    assert claims["sub"] == USER.id
    assert claims["phone"] == ""  # always present, empty when unset
    assert claims["role"] == "authenticated"
    assert claims["aal"] == "aal1"
    assert claims["amr"] == [{"method": "password", "timestamp": 1_900_000_000}]
    assert claims["is_anonymous"] is False
    assert claims["app_metadata"]["school_id"] == 1


def test_anonymous_user_gets_empty_email_and_anonymous_amr(signer: TokenSigner) -> None:
    anon_user = AuthUser(id=USER.id, is_anonymous=True)
    claims = signer.user_claims(anon_user)
    assert claims["email"] == ""
    assert claims["is_anonymous"] is True
    assert claims["amr"][0]["method"] == "anonymous"
    assert claims["role"] == "authenticated"


def test_overrides_apply_last(signer: TokenSigner) -> None:
    claims = signer.user_claims(USER, aal="aal1", overrides={"aal": "aal2", "extra": 1})
    assert (claims["aal"], claims["extra"]) == ("aal2", 1)


def test_tokens_round_trip_and_expire_on_the_injected_clock(
    signer: TokenSigner, clock: ManualClock
) -> None:
    token = signer.sign(signer.user_claims(USER))
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"
    assert signer.verify(token)["sub"] == USER.id
    clock.advance(3600 + CLOCK_SKEW_S)  # still inside the allowed skew
    assert signer.verify(token)["sub"] == USER.id
    clock.advance(1)
    with pytest.raises(jwt.ExpiredSignatureError):
        signer.verify(token)


def test_tokens_from_the_future_are_refused_beyond_skew(signer: TokenSigner) -> None:
    claims = signer.user_claims(USER)
    claims["iat"] += CLOCK_SKEW_S + 5
    with pytest.raises(jwt.ImmatureSignatureError):
        signer.verify(signer.sign(claims))


def test_another_secret_is_rejected(signer: TokenSigner, clock: ManualClock) -> None:
    other = TokenSigner(clock=clock)
    with pytest.raises(jwt.InvalidSignatureError):
        signer.verify(other.sign(other.user_claims(USER)))


def test_api_keys_carry_no_sub_and_no_aud(signer: TokenSigner) -> None:
    anon = signer.verify(signer.anon_key)
    service = signer.verify(signer.service_role_key)
    assert anon == {"iss": "supabase-demo", "role": "anon", "exp": API_KEY_EXP}
    assert service["role"] == "service_role"
    assert "sub" not in service
    assert "aud" not in service
    with pytest.raises(ValueError, match="anon and service_role"):
        signer.api_key_claims("authenticated")


def test_each_signer_gets_its_own_secret() -> None:
    assert TokenSigner().secret != TokenSigner().secret
    assert len(TokenSigner().secret) >= 32


@pytest.mark.parametrize("value", [None, "soon", True, [1], float("inf")])
def test_non_numeric_time_claims_are_a_decode_error(signer: TokenSigner, value: object) -> None:
    token = signer.sign({"sub": "x", "exp": value})
    with pytest.raises(jwt.DecodeError, match="exp claim must be a number"):
        signer.verify(token)


def test_leeway_is_the_callers(signer: TokenSigner, clock: ManualClock) -> None:
    """PostgREST allows 30 s of skew; GoTrue (the auth service) allows none."""
    token = signer.sign({"sub": "x", "exp": int(clock.now()) - 10})
    assert signer.verify(token)["sub"] == "x"
    with pytest.raises(jwt.ExpiredSignatureError):
        signer.verify(token, leeway_s=0)
