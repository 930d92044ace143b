"""pgTAP test files (``supabase/tests/**/*.sql``) run against rlsguard's prepared database.

One module, one job: :mod:`.tap` parses TAP, :mod:`.sqlfile` reads a test file into
statements, :mod:`.provider` installs pgTAP (the server's or rlsguard's own, ``sql/pgtap.sql``)
and the community test helpers (``sql/test_helpers.sql``), :mod:`.runner` runs one file in a
rolled-back transaction, :mod:`.collect` finds the files, :mod:`.report` writes TAP and JUnit.
The pytest items live with the plugin (:mod:`rlsguard.pytest.pgtap`); nothing here starts a
server: the caller hands in connections.
"""
