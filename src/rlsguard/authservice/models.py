"""Request bodies, as GoTrue's param structs declare them (json tags), validated by pydantic.

Unknown keys are ignored, as Go's ``encoding/json`` ignores them (supabase-py sends
``gotrue_meta_security`` and ``data`` everywhere). A wrong type is GoTrue's ``bad_json``
(``internal/api/helpers.go`` ``retrieveRequestParams``); an empty body is ``{}``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

_MAX_FIELD = 4096  # nothing legitimate is longer; bounds work done on hostile input


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SignupParams(Body):
    """internal/api/signup.go ``SignupParams``."""

    email: StrictStr = Field("", max_length=_MAX_FIELD)
    phone: StrictStr = Field("", max_length=_MAX_FIELD)
    password: StrictStr = Field("", max_length=_MAX_FIELD)
    data: dict[str, Any] | None = None
    code_challenge: StrictStr = Field("", max_length=_MAX_FIELD)
    code_challenge_method: StrictStr = Field("", max_length=_MAX_FIELD)


class PasswordGrantParams(Body):
    """internal/api/token.go ``PasswordGrantParams``."""

    email: StrictStr = Field("", max_length=_MAX_FIELD)
    phone: StrictStr = Field("", max_length=_MAX_FIELD)
    password: StrictStr = Field("", max_length=_MAX_FIELD)


class RefreshTokenGrantParams(Body):
    """internal/api/token_refresh.go ``RefreshTokenGrantParams``."""

    refresh_token: StrictStr = Field("", max_length=_MAX_FIELD)


class OtpParams(Body):
    """internal/api/otp.go ``OtpParams``."""

    email: StrictStr = Field("", max_length=_MAX_FIELD)
    phone: StrictStr = Field("", max_length=_MAX_FIELD)
    create_user: StrictBool = True
    data: dict[str, Any] | None = None
    channel: StrictStr = Field("", max_length=_MAX_FIELD)


class VerifyParams(Body):
    """internal/api/verify.go ``VerifyParams``."""

    type: StrictStr = Field("", max_length=_MAX_FIELD)
    token: StrictStr = Field("", max_length=_MAX_FIELD)
    token_hash: StrictStr = Field("", max_length=_MAX_FIELD)
    email: StrictStr = Field("", max_length=_MAX_FIELD)
    phone: StrictStr = Field("", max_length=_MAX_FIELD)
    redirect_to: StrictStr = Field("", max_length=_MAX_FIELD)


class UserUpdateParams(Body):
    """internal/api/user.go ``UserUpdateParams`` (email/phone changes are not supported)."""

    email: StrictStr = Field("", max_length=_MAX_FIELD)
    phone: StrictStr = Field("", max_length=_MAX_FIELD)
    password: StrictStr | None = Field(None, max_length=_MAX_FIELD)
    current_password: StrictStr | None = Field(None, max_length=_MAX_FIELD)
    nonce: StrictStr = Field("", max_length=_MAX_FIELD)
    data: dict[str, Any] | None = None
    app_metadata: dict[str, Any] | None = None
