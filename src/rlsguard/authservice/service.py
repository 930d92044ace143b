"""What each auth endpoint does, as GoTrue does it; HTTP parsing lives in :mod:`.routes`.

Every method is synchronous (database and bcrypt work), called from the routes in a worker
thread. Sources, all in supabase/auth: ``internal/api/signup.go``, ``token.go``,
``internal/tokens/service.go`` (``RefreshTokenGrant``), ``otp.go``, ``verify.go``,
``user.go``, ``logout.go``, ``auth.go``, ``internal/models/refresh_token.go``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import re
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg_pool import ConnectionPool

from rlsguard.authservice import errors as E
from rlsguard.authservice import outbox, store
from rlsguard.authservice.errors import ApiError, OAuthError, bad_request, forbidden, unprocessable
from rlsguard.authservice.models import (
    OtpParams,
    PasswordGrantParams,
    RefreshTokenGrantParams,
    SignupParams,
    UserUpdateParams,
    VerifyParams,
)
from rlsguard.authservice.outbox import OutboxSender
from rlsguard.authservice.passwords import check_strength, hash_password, verify_password
from rlsguard.authservice.ratelimit import RateLimiter
from rlsguard.authservice.redislimit import LimiterUnavailable
from rlsguard.authservice.responses import token_json, user_json
from rlsguard.authservice.settings import AuthSettings
from rlsguard.authservice.tokens import issue_access_token, verify_access_token
from rlsguard.clock import Clock
from rlsguard.identity.tokens import TokenSigner

log = logging.getLogger("rlsguard.authservice")

AUDIENCE = "authenticated"  # GOTRUE_JWT_AUD as the CLI sets it
INVALID_LOGIN = "Invalid login credentials"  # token.go InvalidLoginMessage
MAX_EMAIL_LENGTH = 255
_EMAIL = re.compile(r"^[^@\s\"<>,;:]+@[^@\s\"<>,;:]+\.[^@\s\"<>,;:.]+$")
OTP_TYPES = {"email": "otp", "magiclink": "magiclink", "signup": "otp"}  # type -> amr method


@dataclass(frozen=True)
class Caller:
    """Who is asking: for rate limits, sessions and the audit log."""

    ip: str = ""
    user_agent: str = ""
    limit_key: str | None = None  # first value of the rate-limit header, when configured


def validate_email(email: str) -> str:
    """mail.go ``validateEmail``: present, at most 255 characters, a plausible address."""
    email = email.strip()
    if not email:
        raise bad_request(E.VALIDATION_FAILED, "An email address is required")
    if len(email) > MAX_EMAIL_LENGTH:
        raise bad_request(E.VALIDATION_FAILED, "An email address is too long")
    if not _EMAIL.match(email):
        raise bad_request(
            E.EMAIL_ADDRESS_INVALID, "Unable to validate email address: invalid format"
        )
    return email.lower()


def otp_hash(email: str, otp: str) -> str:
    """internal/crypto ``GenerateTokenHash``: hex SHA-224 of email (or phone) + OTP."""
    return hashlib.sha224((email + otp).encode("utf-8")).hexdigest()


def _inet(address: str) -> str | None:
    """``sessions.ip`` is inet: only a real address goes in."""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def is_banned(user: store.Row, now: float) -> bool:
    banned: datetime | None = user.get("banned_until")
    return banned is not None and banned.timestamp() > now


def create_user(*args: Any, **kwargs: Any) -> Any:
    """The GoTrue-way user creation (:func:`rlsguard.supabase.users.create_user`), imported
    on first signup: ``rlsguard.supabase`` pulls in the SQL parser, which a service start
    should not pay for. Its failure is GoTrue's "Database error saving new user"."""
    from rlsguard.supabase.errors import UserCreationError
    from rlsguard.supabase.users import create_user as create

    try:
        return create(*args, **kwargs)
    except UserCreationError as exc:
        log.error(
            "signup trigger failed",
            extra={"event": "signup_failed", "reason": exc.problem.message},
        )
        raise ApiError(500, E.UNEXPECTED_FAILURE, "Database error saving new user") from None


class AuthService:
    """GoTrue's behaviour over one database, one signer, one clock."""

    def __init__(
        self,
        settings: AuthSettings,
        signer: TokenSigner,
        pool: ConnectionPool[Any],
        clock: Clock,
        limiter: RateLimiter,
        sender: OutboxSender,
    ) -> None:
        self.settings = settings
        self.signer = signer
        self.pool = pool
        self.clock = clock
        self.limiter = limiter
        self.sender = sender
        self._queued = threading.local()  # Message-IDs this request queued, sent after commit

    # -- helpers -----------------------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[store.Conn]:
        self._queued.ids = []
        with self.pool.connection() as conn, conn.transaction():
            yield conn
        self._deliver_queued()

    def _deliver_queued(self) -> None:
        """After the commit: one immediate attempt at this request's own mail while SMTP is
        healthy (the user waits no longer than before the outbox); otherwise, or on failure,
        the background sender retries it with backoff."""
        ids: list[str] = getattr(self._queued, "ids", [])
        self._queued.ids = []
        for message_id in ids:
            if self.sender.healthy:
                try:
                    self.sender.send_one(only=message_id)
                except Exception as exc:  # the sender retries; the request succeeded
                    extra = {"event": "outbox_error", "exception": type(exc).__name__}
                    log.error("immediate send", extra=extra)
        if ids:
            self.sender.wake()

    def rate_limit(self, bucket: str, caller: Caller) -> None:
        """middleware.go ``performRateLimitingWithHeader``: 429 over_request_rate_limit.

        GoTrue limits requests per client only when ``GOTRUE_RATE_LIMIT_HEADER`` names a
        header (hosted: the client IP a proxy forwards) and the request carries it; keyed by
        its first comma-separated value. Without it (``supabase start``) nothing is limited.
        """
        if not caller.limit_key:
            return
        message = "Request rate limit reached"
        self._take(bucket, caller.limit_key, E.OVER_REQUEST_RATE_LIMIT, message)

    def _take(self, bucket: str, key: str, code: str, message: str) -> None:
        """One token or a 429 with ``Retry-After`` (whole seconds, at least 1); a shared limiter
        that is down and fails closed answers 503."""
        try:
            decision = self.limiter.decide(bucket, key)
        except LimiterUnavailable:
            raise ApiError(
                503,
                E.RATE_LIMITER_UNAVAILABLE,
                "Service unavailable: the rate limiter cannot be reached, try again shortly",
                headers={"Retry-After": "1"},
            ) from None
        if not decision.allowed:
            retry = str(max(1, math.ceil(decision.retry_after_s)))
            raise ApiError(429, code, message, headers={"Retry-After": retry})

    def rate_limit_email(self, email: str) -> None:
        """Password attempts per account (the shared limiter only: GoTrue has no such bucket)."""
        if self.settings.rate_limit_backend != "redis":
            return
        self._take("login", email.strip().lower(), E.OVER_REQUEST_RATE_LIMIT,
                   "Request rate limit reached")  # fmt: skip

    def _email_limit(self) -> None:
        """mail.go: zero means no email at all; otherwise only limited without autoconfirm."""
        if self.settings.rate_limit.email_sent == 0:
            raise ApiError(429, E.OVER_EMAIL_SEND_RATE_LIMIT, "Email rate limit exceeded")
        if self.settings.autoconfirm:
            return
        self._take("email", "instance", E.OVER_EMAIL_SEND_RATE_LIMIT, "Email rate limit exceeded")

    def _user_json(self, conn: store.Conn, user_id: str) -> dict[str, Any]:
        user = store.find_user_by_id(conn, user_id)
        assert user is not None
        return user_json(user, store.identities(conn, user_id))

    def _issue_session(
        self, conn: store.Conn, user: store.Row, method: str, caller: Caller
    ) -> dict[str, Any]:
        """tokens.Service.IssueRefreshToken: new session, refresh token, access token."""
        now = self.clock.now()
        session_id, refresh, fresh = store.create_session(
            conn, str(user["id"]), method, now, user_agent=caller.user_agent, ip=_inet(caller.ip)
        )
        return self._token_response(conn, fresh, session_id, refresh)

    def _token_response(
        self, conn: store.Conn, user: store.Row, session_id: str, refresh: str
    ) -> dict[str, Any]:
        access, exp = issue_access_token(
            self.signer, user, session_id, store.session_amr(conn, session_id)
        )
        return token_json(
            access,
            self.signer.expiry_s,
            exp,
            refresh,
            user_json(user, store.identities(conn, str(user["id"]))),
        )

    def _send_otp(self, conn: store.Conn, user: store.Row, column: str, subject: str) -> None:
        """Hash and store a fresh OTP, then mail it (the OTP itself is never stored or logged)."""
        self._email_limit()
        email = user["email"]
        otp = "".join(secrets.choice("0123456789") for _ in range(self.settings.email.otp_length))
        store.set_otp(conn, str(user["id"]), column, otp_hash(email, otp), self.clock.now())
        body = (
            f"Your one-time code is {otp}\n\n"
            f"It expires in {self.settings.email.otp_expiry // 60} minutes.\n"
            f"Site: {self.settings.site_url}\n"
        )
        # Queued with the OTP's hash in this transaction: both commit or neither does.
        self.sender.ensure_table()
        message_id = outbox.enqueue(
            conn, email, subject, body, self.clock.now(), self.settings.email.otp_expiry
        )
        self._queued.ids.append(message_id)

    # -- endpoints ---------------------------------------------------------------------------
    def signup(self, params: SignupParams, caller: Caller) -> dict[str, Any]:
        settings = self.settings
        if not settings.signup_allowed:
            raise unprocessable(E.SIGNUP_DISABLED, "Signups not allowed for this instance")
        if params.email and params.phone:
            raise bad_request(
                E.VALIDATION_FAILED,
                "Only an email address or phone number should be provided on signup.",
            )
        if not params.password:
            raise bad_request(E.VALIDATION_FAILED, "Signup requires a valid password")
        if params.phone:
            raise bad_request("phone_provider_disabled", "Phone signups are disabled")
        email = validate_email(params.email)
        check_strength(params.password, settings)
        self.rate_limit("signup", caller)
        data = dict(params.data or {})
        with self._tx() as conn:
            existing = store.find_user_by_email(conn, email, AUDIENCE)
            if existing is not None:
                store.audit(conn, existing, "user_repeated_signup", self.clock.now(), ip=caller.ip)
                if settings.autoconfirm or existing["confirmed_at"] is not None:
                    if settings.autoconfirm:
                        raise unprocessable(E.USER_ALREADY_EXISTS, "User already registered")
                    return self._obfuscated_user(email, data)
                self._send_otp(conn, existing, "confirmation_token", "Confirm your signup")
                return self._obfuscated_user(email, data)
            user_id = create_user(
                conn,
                email=email,
                password=params.password,
                user_metadata=data,
                confirmed=settings.autoconfirm,
                bcrypt_rounds=settings.bcrypt_cost,
            )
            user = store.find_user_by_id(conn, str(user_id))
            assert user is not None
            now = self.clock.now()
            if settings.autoconfirm:
                store.audit(conn, user, "user_signedup", now, ip=caller.ip,
                            traits={"provider": "email"})  # fmt: skip
                store.audit(conn, user, "login", now, ip=caller.ip, traits={"provider": "email"})
                return self._issue_session(conn, user, "password", caller)
            store.audit(conn, user, "user_confirmation_requested", now, ip=caller.ip,
                        traits={"provider": "email"})  # fmt: skip
            self._send_otp(conn, user, "confirmation_token", "Confirm your signup")
            return self._user_json(conn, str(user_id))

    def _obfuscated_user(self, email: str, data: dict[str, Any]) -> dict[str, Any]:
        """signup.go ``sanitizeUser``: a made-up user, so signup never reveals who exists."""
        now = store.ts(self.clock.now())
        fake: store.Row = {
            "id": uuid.uuid4(), "aud": AUDIENCE, "role": "", "email": email, "phone": "",
            "confirmation_sent_at": now, "raw_app_meta_data": {"provider": "email",
            "providers": ["email"]}, "raw_user_meta_data": data, "created_at": now,
            "updated_at": now, "is_anonymous": False,
        }  # fmt: skip
        return user_json(fake, [])

    def password_grant(self, params: PasswordGrantParams, caller: Caller) -> dict[str, Any]:
        if params.email and params.phone:
            raise bad_request(
                E.VALIDATION_FAILED,
                "Only an email address or phone number should be provided on login.",
            )
        if params.phone:
            raise unprocessable("phone_provider_disabled", "Phone logins are disabled")
        if not params.email:
            raise bad_request(E.VALIDATION_FAILED, "missing email or phone")
        self.rate_limit_email(params.email)
        with self._tx() as conn:
            user = store.find_user_by_email(conn, params.email, AUDIENCE)
            if user is None or not user["encrypted_password"]:
                verify_password(
                    params.password, None, self.settings.bcrypt_cost
                )  # same cost as a wrong password
                raise bad_request(E.INVALID_CREDENTIALS, INVALID_LOGIN)
            if is_banned(user, self.clock.now()):
                raise bad_request(E.USER_BANNED, "User is banned")
            if not verify_password(
                params.password, user["encrypted_password"], self.settings.bcrypt_cost
            ):
                raise bad_request(E.INVALID_CREDENTIALS, INVALID_LOGIN)
            if user["email_confirmed_at"] is None:
                raise bad_request(E.EMAIL_NOT_CONFIRMED, "Email not confirmed")
            weak: dict[str, Any] | None = None
            try:
                check_strength(params.password, self.settings)
            except ApiError as exc:
                if exc.weak_password_reasons:
                    weak = {"message": exc.msg, "reasons": exc.weak_password_reasons}
            store.audit(conn, user, "login", self.clock.now(), ip=caller.ip,
                        traits={"provider": "email"})  # fmt: skip
            response = self._issue_session(conn, user, "password", caller)
        if weak is not None:
            response["weak_password"] = weak
        return response

    def refresh_grant(self, params: RefreshTokenGrantParams, caller: Caller) -> dict[str, Any]:
        """tokens.Service.RefreshTokenGrant for v1 (random string) refresh tokens."""
        if not params.refresh_token:
            raise OAuthError("invalid_request", "refresh_token required")
        settings = self.settings
        deferred: ApiError | None = None  # raised after the transaction commits
        with self._tx() as conn:
            token = store.find_refresh_token(conn, params.refresh_token)
            if token is None:
                raise bad_request(
                    E.REFRESH_TOKEN_NOT_FOUND, "Invalid Refresh Token: Refresh Token Not Found"
                )
            user = store.find_user_by_id(conn, str(token["user_id"]))
            if user is None:
                raise bad_request(
                    E.REFRESH_TOKEN_NOT_FOUND, "Invalid Refresh Token: Refresh Token Not Found"
                )
            now = self.clock.now()
            if is_banned(user, now):
                raise bad_request(E.USER_BANNED, "Invalid Refresh Token: User Banned")
            if token["live_session"] is None:
                raise bad_request(
                    E.SESSION_NOT_FOUND, "Invalid Refresh Token: No Valid Session Found"
                )
            session_id = str(token["session_id"])
            issued: str | None = None
            if token["revoked"]:
                active = store.active_refresh_token(conn, session_id)
                if active is not None and active["parent"] == token["token"]:
                    # The client lost the answer to its last refresh: hand it the same child.
                    issued = active["token"]
                elif now > token["updated_at"].timestamp() + settings.refresh_token_reuse_interval:
                    if settings.enable_refresh_token_rotation:
                        store.revoke_token_family(conn, session_id, now)
                    log.warning(
                        "refresh token reuse",
                        extra={"event": "refresh_token_reuse", "session_id": session_id},
                    )
                    deferred = bad_request(
                        E.REFRESH_TOKEN_ALREADY_USED, "Invalid Refresh Token: Already Used"
                    )
            if deferred is None:
                store.audit(conn, user, "token_refreshed", now, ip=caller.ip)
                if issued is None:
                    store.audit(conn, user, "token_revoked", now, ip=caller.ip)
                    issued, user = store.swap_refresh_token(conn, token, now)
                response = self._token_response(conn, user, session_id, issued)
        if deferred is not None:
            raise deferred
        return response

    # -- endpoints that need a bearer token --------------------------------------------------
    def authenticate(
        self, conn: store.Conn, token: str
    ) -> tuple[dict[str, Any], store.Row, str | None]:
        """auth.go requireAuthentication + maybeLoadUserOrSession."""
        claims = verify_access_token(self.signer, token)
        user = store.find_user_by_id(conn, str(claims["sub"]))
        if user is None:
            raise forbidden(E.USER_NOT_FOUND, "User from sub claim in JWT does not exist")
        session_id = claims.get("session_id") or None
        if session_id and not store.session_exists(conn, str(session_id)):
            raise forbidden(
                E.SESSION_NOT_FOUND, "Session from session_id claim in JWT does not exist"
            )
        if is_banned(user, self.clock.now()):
            raise forbidden(E.USER_BANNED, "User is banned")
        return claims, user, str(session_id) if session_id else None

    @staticmethod
    def _check_audience(claims: dict[str, Any]) -> None:
        aud = claims.get("aud")
        first = aud[0] if isinstance(aud, list) and aud else aud
        if first != AUDIENCE:
            raise bad_request(E.VALIDATION_FAILED, "Token audience doesn't match request audience")

    def get_user(self, token: str) -> dict[str, Any]:
        with self._tx() as conn:
            claims, user, _ = self.authenticate(conn, token)
            self._check_audience(claims)
            return user_json(user, store.identities(conn, str(user["id"])))

    def update_user(self, token: str, params: UserUpdateParams, caller: Caller) -> dict[str, Any]:
        with self._tx() as conn:
            claims, user, session_id = self.authenticate(conn, token)
            self._check_audience(claims)
            user_id = str(user["id"])
            if params.app_metadata is not None:
                raise forbidden(E.NOT_ADMIN, "Updating app_metadata requires admin privileges")
            if (params.email and params.email.lower() != (user["email"] or "")) or params.phone:
                raise unprocessable(
                    E.VALIDATION_FAILED,
                    "Changing email or phone is not supported by rlsguard's reference auth "
                    "service; test it against a real Supabase Auth",
                )
            now = self.clock.now()
            if params.password is not None:
                check_strength(params.password, self.settings)
                if verify_password(
                    params.password, user["encrypted_password"], self.settings.bcrypt_cost
                ):
                    raise unprocessable(
                        E.SAME_PASSWORD, "New password should be different from the old password."
                    )
                encrypted = hash_password(params.password, self.settings.bcrypt_cost)
                store.update_password(conn, user_id, encrypted, now)
                if session_id:  # models.User.UpdatePassword: other sessions end
                    store.logout(conn, user_id, session_id, "others")
                store.audit(conn, user, "user_updated_password", now, ip=caller.ip)
            if params.data is not None:
                store.update_user_metadata(conn, user_id, params.data, now)
            store.audit(conn, user, "user_modified", now, ip=caller.ip)
            return self._user_json(conn, user_id)

    def logout(self, token: str, scope: str, caller: Caller) -> None:
        if scope not in ("", "global", "local", "others"):
            raise bad_request(E.VALIDATION_FAILED, f'Unsupported logout scope "{scope}"')
        with self._tx() as conn:
            _, user, session_id = self.authenticate(conn, token)
            store.audit(conn, user, "logout", self.clock.now(), ip=caller.ip)
            store.logout(conn, str(user["id"]), session_id, scope or "global")

    # -- one-time passwords ------------------------------------------------------------------
    def otp(self, params: OtpParams, caller: Caller) -> dict[str, Any]:
        if params.email and params.phone:
            raise bad_request(
                E.VALIDATION_FAILED, "Only an email address or phone number should be provided"
            )
        if params.phone:
            raise bad_request("phone_provider_disabled", "Unsupported phone provider")
        if not params.email:
            raise bad_request(E.VALIDATION_FAILED, "One of email or phone must be set")
        email = validate_email(params.email)
        self.rate_limit("otp", caller)
        with self._tx() as conn:
            user = store.find_user_by_email(conn, email, AUDIENCE)
            if user is None:
                if not params.create_user or not self.settings.signup_allowed:
                    raise unprocessable(E.OTP_DISABLED, "Signups not allowed for otp")
                user_id = create_user(
                    conn, email=email, user_metadata=dict(params.data or {}), confirmed=False
                )
                user = store.find_user_by_id(conn, str(user_id))
                assert user is not None
            if is_banned(user, self.clock.now()):
                raise bad_request(E.USER_BANNED, "User is banned")
            confirmed = user["email_confirmed_at"] is not None
            column = "recovery_token" if confirmed else "confirmation_token"
            action = "user_recovery_requested" if confirmed else "user_confirmation_requested"
            store.audit(conn, user, action, self.clock.now(), ip=caller.ip)
            self._send_otp(conn, user, column, "Your sign-in code")
        return {}

    def verify(self, params: VerifyParams, caller: Caller) -> dict[str, Any]:
        if not params.type:
            raise bad_request(E.VALIDATION_FAILED, "Verify requires a verification type")
        if not params.token and not params.token_hash:
            raise bad_request(E.VALIDATION_FAILED, "Verify requires a token or a token hash")
        if params.type not in OTP_TYPES:
            raise bad_request(E.VALIDATION_FAILED, "Unsupported verification type")
        if params.token and not params.email:
            raise bad_request(E.VALIDATION_FAILED, "An email address is required")
        self.rate_limit("verify", caller)
        invalid = forbidden(E.OTP_EXPIRED, "Token has expired or is invalid")
        with self._tx() as conn:
            if params.token_hash:
                user = (
                    store.cursor(conn)
                    .execute(
                        "SELECT id FROM auth.users WHERE confirmation_token = %s "
                        "OR recovery_token = %s LIMIT 1",
                        (params.token_hash, params.token_hash),
                    )
                    .fetchone()
                )
                user = store.find_user_by_id(conn, str(user["id"])) if user else None
                presented = params.token_hash
            else:
                email = validate_email(params.email)
                user = store.find_user_by_email(conn, email, AUDIENCE)
                presented = otp_hash(email, params.token.strip())
            if user is None:
                raise invalid
            now = self.clock.now()
            expiry = self.settings.email.otp_expiry
            matched = False
            for column, sent in (
                ("confirmation_token", "confirmation_sent_at"),
                ("recovery_token", "recovery_sent_at"),
            ):
                stored = user.get(column) or ""
                fresh = user.get(sent) is not None and now <= user[sent].timestamp() + expiry
                if stored and hmac.compare_digest(stored, presented) and fresh:
                    matched = True
            if not matched:
                raise invalid
            if is_banned(user, now):
                raise forbidden(E.USER_BANNED, "User is banned")
            user_id = str(user["id"])
            store.confirm_email(conn, user_id, now)
            store.clear_otps(conn, user_id, now)
            store.audit(conn, user, "login", now, ip=caller.ip, traits={"provider": "email"})
            fresh_user = store.find_user_by_id(conn, user_id)
            assert fresh_user is not None
            return self._issue_session(conn, fresh_user, OTP_TYPES[params.type], caller)
