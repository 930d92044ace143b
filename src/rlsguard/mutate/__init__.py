"""Mutation testing of the security surface: which plausible policy bugs would the checks miss?

One module, one job: :mod:`.operators` (pglast rewrites of one expression), :mod:`.generate`
(mutants of a live catalog), :mod:`.equivalence` (mutants that cannot change access, and the
config's waivers), :mod:`.execute` (each mutant in a rolled-back transaction, checks injected
by the caller, parallel over clones), :mod:`.report` (text, JSON, markdown, SARIF).

The package sits beside the checks: it never imports the matrix, the audit or the harness.
Whoever runs it (the CLI) hands it the databases and the checks that judge a mutant.
"""
