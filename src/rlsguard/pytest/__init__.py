"""The pytest plugin (entry point ``rlsguard`` -> :mod:`.plugin`).

:mod:`.plugin` declares options, markers and fixtures; :mod:`.session` holds the one engine
per pytest process; :mod:`.fixtures` implements the fixtures; :mod:`.matrix` and
:mod:`.drift` collect the access matrix and the approved policy snapshot as ``rls`` items.
"""
