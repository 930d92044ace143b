"""Faults of the runbook's sections 1, 3, 4 and 5 on the auth rig (:mod:`.authrig`).

All are process-level faults in the model of :mod:`.dbfaults`: ``inject`` acts and returns
what to journal (``processes``: pid and start time of what it killed or froze), ``release``
undoes it in-process and is idempotent. Every process they touch is one rlsguard started in
the drill's Stack (Redis, the SMTP sink, the auth service), so a killed runner takes them all
with it and nothing is left for ``--cleanup``; the one piece of state outside a process, a
planted Redis key, lives in that Redis too.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from pydantic import Field

from rlsguard.authservice import app as app_module
from rlsguard.authservice.redislimit import bucket_key
from rlsguard.gameday.faults import FAULTS, Fault, FaultContext, FaultError, FaultPlan, _Params


def _rig(ctx: FaultContext) -> Any:
    rt = ctx.runtime
    rig = getattr(rt, "auth", None) if rt is not None else None
    if rig is None:
        raise FaultError("auth faults need the auth rig: add an `auth_service:` section")
    return rig


def _start_time(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _process(kind: str, server: Any) -> dict[str, Any]:
    return {"kind": kind, "pid": server.pid, "start": _start_time(server.pid), "name": server.name}


def _outage(kind: str, server: Any, mode: str) -> dict[str, Any]:
    proc = _process(kind, server)
    if mode == "kill":
        server.kill()
    else:
        server.freeze()
    return {"processes": [proc], "mode": mode}


def _recover(server: Any) -> dict[str, Any]:
    server.thaw()
    if server.is_running:
        return {"restarted": False}
    server.restart()
    return {"restarted": True}


class OutageParams(_Params):
    mode: Literal["kill", "freeze"] = Field(
        default="kill", description="kill: SIGKILL (refused); freeze: SIGSTOP (hangs)."
    )


@FAULTS.register("redis_outage")
class RedisOutage(Fault):
    """Redis killed (connections refused) or frozen (connections hang)."""

    Params = OutageParams

    def plan(self, params: OutageParams, ctx: FaultContext) -> FaultPlan:
        rig = _rig(ctx)
        how = "killed" if params.mode == "kill" else "frozen (SIGSTOP)"
        return FaultPlan(
            f"Redis of the rate limiter {how}",
            objects=[rig.redis.name],
            inject=lambda: _outage("redis", rig.redis, params.mode),
            release=lambda admin: _recover(rig.redis),
        )


@FAULTS.register("auth_server_outage")
class AuthServerOutage(Fault):
    """The auth service's processes killed or frozen (a crash, a deadlock)."""

    Params = OutageParams

    def plan(self, params: OutageParams, ctx: FaultContext) -> FaultPlan:
        rig = _rig(ctx)
        server = rig.endpoint.server
        return FaultPlan(
            f"auth service {'killed' if params.mode == 'kill' else 'frozen (SIGSTOP)'}",
            objects=[server.name],
            inject=lambda: _outage("auth", server, params.mode),
            release=lambda admin: _recover(server),
        )


class StuckParams(_Params):
    user: int = Field(default=0, ge=0, description="Which synthetic user is locked out.")


@FAULTS.register("stuck_ratelimit_key")
class StuckRateLimitKey(Fault):
    """A ``ratelimit:`` bucket with no tokens, no TTL and a refill time a day ahead (what an
    app server with a skewed clock and an INCR-then-EXPIRE limiter leaves): the user is locked
    out until someone deletes the key."""

    Params = StuckParams

    def plan(self, params: StuckParams, ctx: FaultContext) -> FaultPlan:
        rig = _rig(ctx)
        if params.user >= len(rig.users):
            raise FaultError(f"the rig has {len(rig.users)} users; user must be below that")
        email = rig.users[params.user][0]
        key = bucket_key("login", email)

        def inject() -> dict[str, Any]:
            with rig.redis_client() as c:
                c.hset(key, mapping={"t": "0", "ts": f"{time.time() + 86400:.6f}"})
                c.persist(key)
            return {"key": key}

        def release(admin: Any) -> dict[str, Any]:
            with rig.redis_client() as c:
                return {"deleted": int(c.delete(key))}

        return FaultPlan(
            f"rate-limit bucket {key} stuck empty without a TTL",
            objects=[key],
            inject=inject,
            release=release,
        )


class ConfigParams(_Params):
    change: Literal["wrong_rate_limit", "rotated_jwt_secret"] = Field(
        description="wrong_rate_limit: token_refresh = 1 per 5 min deployed; "
        "rotated_jwt_secret: the service signs with a secret the data layer does not know."
    )


@FAULTS.register("bad_auth_config")
class BadAuthConfig(Fault):
    """A bad configuration deployed: the service restarted with it."""

    Params = ConfigParams

    def plan(self, params: ConfigParams, ctx: FaultContext) -> FaultPlan:
        rig = _rig(ctx)
        good = dict(rig.env)
        bad = dict(good)
        if params.change == "wrong_rate_limit":
            settings = json.loads(bad.get(app_module.ENV_OVERRIDES, "{}"))
            settings["rate_limit"] = {**settings.get("rate_limit", {}), "token_refresh": 1}
            bad[app_module.ENV_OVERRIDES] = json.dumps(settings)
            summary = "[auth.rate_limit] token_refresh = 1 deployed (meant: 3000)"
        else:
            bad[app_module.ENV_GATEWAY_SECRET] = good[app_module.ENV_SECRET]  # keys still work
            bad[app_module.ENV_SECRET] = good[app_module.ENV_SECRET] + "-rotated"
            summary = "auth service deployed with a rotated JWT secret the database does not use"

        def inject() -> dict[str, Any]:
            old = _process("auth", rig.endpoint.server)
            rig.redeploy(bad)
            return {"processes": [old], "change": params.change}

        def release(admin: Any) -> dict[str, Any]:
            if rig.endpoint.server.env == good and rig.endpoint.server.is_running:
                return {"redeployed": False}
            rig.redeploy(good)
            return {"redeployed": True}

        return FaultPlan(summary, objects=[rig.endpoint.server.name], inject=inject,
                         release=release)  # fmt: skip


class SmtpParams(_Params):
    mode: Literal["refuse", "stall", "tempfail", "bounce"] = Field(
        description="refuse: port closed; stall: never greets (timeouts); tempfail: 451 at "
        "MAIL FROM; bounce: 550 at RCPT."
    )


@FAULTS.register("smtp_outage")
class SmtpOutage(Fault):
    """The mail provider refuses, hangs or rejects: OTPs queue up in the outbox."""

    Params = SmtpParams

    def plan(self, params: SmtpParams, ctx: FaultContext) -> FaultPlan:
        rig = _rig(ctx)
        sink = rig.smtp

        def inject() -> dict[str, Any]:
            if params.mode == "refuse":
                sink.refuse()
            elif params.mode == "stall":
                sink.stall()
            elif params.mode == "tempfail":
                sink.fail_with(451, "4.3.0 try again later")
            else:
                sink.fail_with(550, "5.1.1 mailbox unavailable", stage="rcpt")
            return {"mode": params.mode}

        def release(admin: Any) -> dict[str, Any]:
            if sink.mode == "accept":
                return {"accepting": True, "changed": False}
            sink.accept()
            return {"accepting": True, "changed": True}

        return FaultPlan(
            f"SMTP server in {params.mode} mode",
            objects=[sink.name],
            inject=inject,
            release=release,
        )
