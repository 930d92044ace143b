"""The harness: from the project's config to prepared databases, and back to nothing.

:mod:`.engine` (config -> a cached template cluster -> clones), :mod:`.templates` (the
on-disk template cache), :mod:`.janitor` (create, clone and drop only what rlsguard made)
and :mod:`.doctor` (what this machine offers). It starts processes through
:mod:`rlsguard.stack`; the checks never import it.
"""
