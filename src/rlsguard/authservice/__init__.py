"""A reference auth service that behaves like GoTrue (Supabase Auth) wherever a client looks.

Real GoTrue needs Docker or Go; this one runs under uvicorn beside the test database, keeps
its users in the same ``auth`` schema the RLS checks read, and signs tokens with the same
module (:mod:`rlsguard.identity.tokens`), so a token earned by a real sign-in drives RLS
checks. One module per job: settings, models (request bodies), errors (GoTrue's shapes),
passwords, tokens, store (SQL), ratelimit and redislimit, mailer and outbox, service (the
flows), routes (HTTP), app (assembly), server (the supervised process).
"""
