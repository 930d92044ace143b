"""Where a PgBouncer binary is (the Debian package installs ``/usr/sbin/pgbouncer``).

Optional: database drills can put the app behind PgBouncer in transaction mode, as
Supabase's pooler does; without the binary they run the app direct and say so.
"""

from __future__ import annotations

import os
import shutil

DEBIAN_PATH = "/usr/sbin/pgbouncer"


def discover_pgbouncer() -> str | None:
    found = shutil.which("pgbouncer")
    if found:
        return found
    return DEBIAN_PATH if os.access(DEBIAN_PATH, os.X_OK) else None
