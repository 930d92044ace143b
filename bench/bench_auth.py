#!/usr/bin/env python3
"""Benchmark the reference auth service: start to healthy, password sign-in, refresh.

Password sign-in runs at GoTrue's bcrypt cost (10), so it is dominated by bcrypt: the bcrypt
check alone is reported beside it. Prints one JSON document; not a test (the numbers depend
on the machine); CI runs ``--quick`` so the script cannot rot.

    python bench/bench_auth.py            # 5 starts, 50 sign-ins, 200 refreshes
    python bench/bench_auth.py --quick    # 1 start, 5 sign-ins, 10 refreshes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import bcrypt
import httpx

from rlsguard.authservice.server import AUTH_ADMIN, start_auth_service
from rlsguard.authservice.settings import GOTRUE_BCRYPT_COST
from rlsguard.harness.engine import Engine, EngineOptions

REPO = Path(__file__).resolve().parents[1]
TARGETS_MS = {"start_to_healthy": 300.0, "refresh_p50": 5.0}
PASSWORD = "bench-password-1"


def summarize(samples: list[float]) -> dict[str, float]:
    return {
        "min": round(min(samples), 2),
        "median": round(statistics.median(samples), 2),
        "max": round(max(samples), 2),
        "n": len(samples),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    starts, sign_ins, refreshes = (1, 5, 10) if args.quick else (5, 50, 200)

    results: dict[str, Any] = {}
    with Engine(options=EngineOptions(supabase_dir=REPO / "supabase")) as engine:
        engine.open()
        assert engine.stack is not None
        dbname = f"bench_auth_{os.getpid()}"
        engine.clone(dbname)
        try:
            start_ms: list[float] = []
            endpoint = None
            for i in range(starts):
                t0 = time.perf_counter()
                endpoint = start_auth_service(
                    engine.stack,
                    conninfo=engine.conninfo(dbname, user=AUTH_ADMIN),
                    secret=engine.signer.secret,
                    config_toml=REPO / "supabase" / "config.toml",
                    name=f"auth{i}",
                )
                start_ms.append((time.perf_counter() - t0) * 1000)
                if i < starts - 1:
                    engine.stack.discard(endpoint.server.name)
            assert endpoint is not None
            results["start_to_healthy"] = summarize(start_ms)

            with httpx.Client(
                base_url=endpoint.auth_url, headers={"apikey": endpoint.anon_key}
            ) as api:
                email = f"bench-{os.getpid()}@auth.test"
                signup = api.post("/signup", json={"email": email, "password": PASSWORD})
                signup.raise_for_status()
                sign_in_ms = []
                session: dict[str, Any] = {}
                for _ in range(sign_ins):
                    t0 = time.perf_counter()
                    response = api.post(
                        "/token",
                        params={"grant_type": "password"},
                        json={"email": email, "password": PASSWORD},
                    )
                    sign_in_ms.append((time.perf_counter() - t0) * 1000)
                    response.raise_for_status()
                    session = response.json()
                results["password_sign_in"] = summarize(sign_in_ms)

                hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(GOTRUE_BCRYPT_COST))
                bcrypt_ms = []
                for _ in range(sign_ins):
                    t0 = time.perf_counter()
                    bcrypt.checkpw(PASSWORD.encode(), hashed)
                    bcrypt_ms.append((time.perf_counter() - t0) * 1000)
                results["bcrypt_check_alone"] = summarize(bcrypt_ms)

                token = session["refresh_token"]
                refresh_ms = []
                for _ in range(refreshes):
                    t0 = time.perf_counter()
                    response = api.post(
                        "/token", params={"grant_type": "refresh_token"},
                        json={"refresh_token": token},
                    )  # fmt: skip
                    refresh_ms.append((time.perf_counter() - t0) * 1000)
                    response.raise_for_status()
                    token = response.json()["refresh_token"]
                results["refresh"] = summarize(refresh_ms)
            engine.stack.discard(endpoint.server.name)
        finally:
            engine.drop(dbname)

    report = {
        "bench": "auth",
        "quick": args.quick,
        "python": platform.python_version(),
        "bcrypt_cost": GOTRUE_BCRYPT_COST,
        "results_ms": results,
        "targets_ms": TARGETS_MS,
        "met": {
            "start_to_healthy": results["start_to_healthy"]["median"]
            <= TARGETS_MS["start_to_healthy"],
            "refresh_p50": results["refresh"]["median"] <= TARGETS_MS["refresh_p50"],
        },
    }
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
