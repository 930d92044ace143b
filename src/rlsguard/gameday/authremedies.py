"""The runbook's fixes for the auth incidents, as the responder would run them.

- ``restart_redis`` (§4 "Restart Redis"): a frozen server is killed, not thawed (a restart is
  what the runbook says), and it comes back empty (no persistence): every bucket starts full.
- ``clear_stuck_keys`` (§4 ``redis-cli DEL``): keys found with SCAN, deleted one by one.
- ``redeploy_auth_config`` (§1 "revert the bad deploy"): the service restarted with the
  configuration it had before the fault.
- ``restart_auth_service`` (§5 "Restart application (if safe)").
- ``recover_smtp`` (§3 "Verify SMTP settings"): the provider accepts again; the outbox's
  sender delivers what queued up (verified by the ``authsvc`` probe: each once).
"""

from __future__ import annotations

import time
from typing import Any

from rlsguard.gameday.remediation import REMEDIATIONS, RemedyContext, RemedyStep


def _rig(ctx: RemedyContext) -> Any:
    rig = getattr(ctx.runtime, "auth", None)
    if rig is None:
        raise RuntimeError("auth remediations need the auth rig (an `auth_service:` section)")
    return rig


def _restart(server: Any) -> float:
    started = time.perf_counter()
    if server.is_running or getattr(server.state, "value", "") == "frozen":
        server.thaw()
    server.restart()
    return round((time.perf_counter() - started) * 1000, 3)


@REMEDIATIONS.register("restart_redis")
def restart_redis(ctx: RemedyContext, params: dict[str, Any]) -> list[RemedyStep]:
    rig = _rig(ctx)
    ms = _restart(rig.redis)
    return [RemedyStep("redis restarted", f"without persistence: every bucket starts full "
                       f"({ms:.0f} ms)", {"restart_ms": ms})]  # fmt: skip


@REMEDIATIONS.register("clear_stuck_keys")
def clear_stuck_keys(ctx: RemedyContext, params: dict[str, Any]) -> list[RemedyStep]:
    rig = _rig(ctx)
    stuck = rig.stuck_keys()
    with rig.redis_client() as c:
        deleted = sum(int(c.delete(key)) for key, _ in stuck)
    return [
        RemedyStep(
            "stuck rate limits cleared",
            f"SCAN MATCH ratelimit:* found {len(stuck)} key(s) without a usable TTL; DEL "
            f"removed {deleted} (the runbook's KEYS would block Redis on a large keyspace)",
            {"keys": [k for k, _ in stuck], "deleted": deleted},
        )
    ]


@REMEDIATIONS.register("redeploy_auth_config")
def redeploy_auth_config(ctx: RemedyContext, params: dict[str, Any]) -> list[RemedyStep]:
    rig = _rig(ctx)
    started = time.perf_counter()
    rig.redeploy(dict(rig.env))
    ms = round((time.perf_counter() - started) * 1000, 3)
    return [RemedyStep("configuration reverted", f"the auth service redeployed with the last "
                       f"good configuration ({ms:.0f} ms)", {"redeploy_ms": ms})]  # fmt: skip


@REMEDIATIONS.register("restart_auth_service")
def restart_auth_service(ctx: RemedyContext, params: dict[str, Any]) -> list[RemedyStep]:
    rig = _rig(ctx)
    ms = _restart(rig.endpoint.server)
    return [RemedyStep("auth service restarted", f"ready again in {ms:.0f} ms",
                       {"restart_ms": ms})]  # fmt: skip


@REMEDIATIONS.register("recover_smtp")
def recover_smtp(ctx: RemedyContext, params: dict[str, Any]) -> list[RemedyStep]:
    rig = _rig(ctx)
    before = rig.outbox()
    rig.smtp.accept()
    return [
        RemedyStep(
            "SMTP recovered",
            f"the provider accepts again; {before['pending']} queued OTP(s) go out from the outbox",
            {"queued": before["pending"]},
        )
    ]
