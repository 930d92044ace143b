"""Clones keep what CREATE DATABASE ... TEMPLATE forgets; drops do not wait 100 ms."""

from __future__ import annotations

import psycopg

from rlsguard.harness.engine import Engine


def test_clone_keeps_settings_owner_and_privileges(notes_engine: Engine) -> None:
    janitor = notes_engine.databases
    with notes_engine.connect("postgres", autocommit=True) as conn:
        conn.execute("alter role anon in database postgres set work_mem = '3MB'")
        conn.execute("revoke connect on database postgres from public")
        conn.execute("grant connect on database postgres to authenticator")
    janitor.forget("postgres")  # the template changed: re-read its state
    try:
        janitor.clone("postgres", "janitor_clone")
        with notes_engine.connect("janitor_clone", autocommit=True) as conn:
            # ALTER DATABASE postgres SET lock_timeout (from the project's migration)
            assert conn.execute("show lock_timeout").fetchone() == ("4s",)
            owner, acl = conn.execute(
                "select pg_get_userbyid(datdba), datacl::text from pg_database "
                "where datname = 'janitor_clone'"
            ).fetchone()
            assert owner == "postgres"
            assert "authenticator=c/" in acl
            assert "=Tc/" not in acl  # PUBLIC lost CONNECT, as on the template
            # Role-in-database settings apply at login, so read the catalog.
            row = conn.execute(
                "select s.setconfig from pg_db_role_setting s "
                "join pg_database d on d.oid = s.setdatabase "
                "where d.datname = 'janitor_clone' and s.setrole = 'anon'::regrole"
            ).fetchone()
            assert row == (["work_mem=3MB"],)
    finally:
        janitor.drop("janitor_clone")
        with notes_engine.connect("postgres", autocommit=True) as conn:
            conn.execute("alter role anon in database postgres reset work_mem")
            conn.execute("grant connect on database postgres to public")
        janitor.forget("postgres")


def test_drop_disconnects_clients_first(notes_engine: Engine) -> None:
    notes_engine.clone("janitor_busy")
    client = notes_engine.connect("janitor_busy")
    client.execute("select 1")
    notes_engine.drop("janitor_busy")
    assert not notes_engine.databases.exists("janitor_busy")
    try:
        client.execute("select 1")
        raise AssertionError("the dropped database's client should have been terminated")
    except psycopg.OperationalError:
        pass
    finally:
        client.close()
