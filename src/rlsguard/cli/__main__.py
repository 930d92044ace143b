"""``python -m rlsguard.cli``: the same as ``python -m rlsguard`` and the ``rlsguard`` command.

Run through runpy, not imported: the entry point (:mod:`rlsguard.__main__`) imports this
package, never the other way round.
"""

import runpy

runpy.run_module("rlsguard", run_name="__main__", alter_sys=True)
