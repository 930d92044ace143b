"""The HTTP face: GoTrue's routes under ``/auth/v1``, its bodies, headers and status codes.

Routes (supabase/auth ``internal/api/api.go``): signup, token, otp, verify, user (GET, PUT),
logout, health, settings. In front of GoTrue, Supabase's API gateway (Kong: supabase/supabase
``docker/volumes/api/kong.yml``, the CLI's kong template) demands an ``apikey`` header (or
query parameter) holding the anon or service_role key on every auth route except the open ones
(``/verify``, ``/callback``, ``/authorize``); that check is done here, with a constant-time
comparison, answering 401 with the hosted gateway's ``message``/``hint`` body. Bodies over
1 MiB are refused like GoTrue's ``limitRequestBody(1 << 20)``; malformed JSON is
``bad_json``. Nothing answers 500 except a real fault, and then without detail.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rlsguard import __version__
from rlsguard.authservice import errors as E
from rlsguard.authservice.errors import (
    API_VERSION_HEADER,
    ApiError,
    OAuthError,
    error_response,
    requested_api_version,
)
from rlsguard.authservice.models import (
    OtpParams,
    PasswordGrantParams,
    RefreshTokenGrantParams,
    SignupParams,
    UserUpdateParams,
    VerifyParams,
)
from rlsguard.authservice.service import AuthService, Caller
from rlsguard.authservice.tokens import bearer_token

log = logging.getLogger("rlsguard.authservice")

PREFIX = "/auth/v1"
MAX_BODY_BYTES = 1 << 20  # internal/api/api.go limitRequestBody(1 << 20)
OPEN_PATHS = frozenset({f"{PREFIX}/verify", f"{PREFIX}/callback", f"{PREFIX}/authorize"})
B = TypeVar("B", bound=BaseModel)
Handler = Callable[[Request], Awaitable[Response]]


class ApiKeys:
    """The keys the gateway accepts (compared in constant time)."""

    def __init__(self, anon: str, service_role: str) -> None:
        self._keys = [anon.encode(), service_role.encode()]

    def check(self, request: Request) -> None:
        presented = request.headers.get("apikey") or request.query_params.get("apikey")
        if not presented:
            raise _GatewayError(
                "No API key found in request", "No `apikey` request header or url param was found."
            )
        candidate = presented.encode()
        matches = [hmac.compare_digest(candidate, key) for key in self._keys]
        if not any(matches):
            raise _GatewayError("Invalid API key", "Double check your Supabase `anon` or "
                                "`service_role` API key.")  # fmt: skip


class _GatewayError(Exception):
    def __init__(self, message: str, hint: str) -> None:
        self.message = message
        self.hint = hint


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise _too_large()
            chunks.append(chunk)
    except ClientDisconnect:
        raise E.bad_request(E.BAD_JSON, "Could not read request body") from None
    return b"".join(chunks)


def _too_large() -> ApiError:
    return ApiError(
        413, E.REQUEST_ENTITY_TOO_LARGE, f"Request body too large (max {MAX_BODY_BYTES} bytes)"
    )


async def parse_body(request: Request, model: type[B]) -> B:
    """helpers.go retrieveRequestParams: empty is ``{}``, bad JSON or wrong types ``bad_json``."""
    raw = await read_body(request)
    if not raw.strip():
        data: Any = {}
    else:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "invalid input"
            raise E.bad_request(
                E.BAD_JSON, f"Could not parse request body as JSON: {reason}"
            ) from None
    if not isinstance(data, dict):
        raise E.bad_request(
            E.BAD_JSON, "Could not parse request body as JSON: expected a JSON object"
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        if first["type"] == "string_too_long":
            raise E.bad_request(E.VALIDATION_FAILED, f"{field} is too long") from None
        raise E.bad_request(
            E.BAD_JSON, f"Could not parse request body as JSON: {field}: {first['msg']}"
        ) from None


def caller(request: Request, limit_header: str = "") -> Caller:
    key = None
    if limit_header:
        key = request.headers.get(limit_header, "").split(",", 1)[0].strip()[:256] or None
    return Caller(
        ip=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", "")[:512],
        limit_key=key,
    )


def build_app(
    service: AuthService,
    keys: ApiKeys,
    *,
    lifespan: Any = None,
) -> Starlette:
    """The Starlette app for ``service``."""
    limit_header = service.settings.rate_limit_header

    def who(request: Request) -> Caller:
        return caller(request, limit_header)

    def endpoint(fn: Handler, *, needs_key: bool = True) -> Handler:
        async def wrapped(request: Request) -> Response:
            started = time.perf_counter()
            version = requested_api_version(request.headers.get(API_VERSION_HEADER))
            code = ""
            try:
                if needs_key and request.url.path not in OPEN_PATHS:
                    keys.check(request)
                response = await fn(request)
            except _GatewayError as exc:
                code = "no_api_key"
                response = JSONResponse({"message": exc.message, "hint": exc.hint}, 401)
            except (ApiError, OAuthError) as exc:
                code = exc.error_code if isinstance(exc, ApiError) else exc.error
                response = error_response(exc, version)
            except Exception as exc:  # a fault of ours: logged by type, answered without detail
                code = E.UNEXPECTED_FAILURE
                last = traceback.extract_tb(exc.__traceback__)[-1:]
                log.error(
                    "unhandled error",
                    extra={
                        "event": "unhandled",
                        "exception": type(exc).__name__,  # the message may quote input
                        "where": f"{last[0].filename}:{last[0].lineno}" if last else None,
                    },
                )
                response = error_response(
                    ApiError(
                        500,
                        E.UNEXPECTED_FAILURE,
                        "Unexpected failure, please check server logs for more information",
                    ),
                    version,
                )
            log.info(
                "request",
                extra={
                    "event": "request",
                    "method": request.method,
                    "path": request.url.path,  # never the query string
                    "status": response.status_code,
                    "error_code": code or None,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            return response

        return wrapped

    async def health(request: Request) -> Response:
        return JSONResponse(
            {
                "version": f"rlsguard-{__version__}",
                "name": "GoTrue",
                "description": "GoTrue is a user registration and authentication API "
                "(rlsguard reference implementation)",
            }
        )

    async def settings(request: Request) -> Response:
        s = service.settings
        return JSONResponse(
            {
                "external": {"email": True, "phone": False, "anonymous_users": False},
                "disable_signup": not s.enable_signup,
                "mailer_autoconfirm": s.autoconfirm,
                "phone_autoconfirm": False,
                "sms_provider": "",
                "saml_enabled": False,
            }
        )

    async def signup(request: Request) -> Response:
        params = await parse_body(request, SignupParams)
        return JSONResponse(await run_in_threadpool(service.signup, params, who(request)))

    async def token(request: Request) -> Response:
        grant = request.query_params.get("grant_type", "")
        if grant not in ("password", "refresh_token"):
            raise E.bad_request(E.INVALID_CREDENTIALS, "unsupported_grant_type")
        await run_in_threadpool(service.rate_limit, "token", who(request))
        if grant == "password":
            pw = await parse_body(request, PasswordGrantParams)
            result = await run_in_threadpool(service.password_grant, pw, who(request))
        else:
            rt = await parse_body(request, RefreshTokenGrantParams)
            result = await run_in_threadpool(service.refresh_grant, rt, who(request))
        return JSONResponse(result)

    async def otp(request: Request) -> Response:
        params = await parse_body(request, OtpParams)
        return JSONResponse(await run_in_threadpool(service.otp, params, who(request)))

    async def verify(request: Request) -> Response:
        params = await parse_body(request, VerifyParams)
        return JSONResponse(await run_in_threadpool(service.verify, params, who(request)))

    async def user(request: Request) -> Response:
        jwt = bearer_token(request.headers.get("authorization"))
        if request.method == "GET":
            return JSONResponse(await run_in_threadpool(service.get_user, jwt))
        params = await parse_body(request, UserUpdateParams)
        return JSONResponse(await run_in_threadpool(service.update_user, jwt, params, who(request)))

    async def logout(request: Request) -> Response:
        jwt = bearer_token(request.headers.get("authorization"))
        scope = request.query_params.get("scope", "")
        await run_in_threadpool(service.logout, jwt, scope, who(request))
        return Response(status_code=204)

    routes = [
        Route(f"{PREFIX}/health", endpoint(health), methods=["GET"]),
        Route(f"{PREFIX}/settings", endpoint(settings), methods=["GET"]),
        Route(f"{PREFIX}/signup", endpoint(signup), methods=["POST"]),
        Route(f"{PREFIX}/token", endpoint(token), methods=["POST"]),
        Route(f"{PREFIX}/otp", endpoint(otp), methods=["POST"]),
        Route(f"{PREFIX}/verify", endpoint(verify), methods=["POST"]),
        Route(f"{PREFIX}/user", endpoint(user), methods=["GET", "PUT"]),
        Route(f"{PREFIX}/logout", endpoint(logout), methods=["POST"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
