"""The lint rules, registered in :data:`RULES` by id (see :mod:`.base` for what a rule is)."""

from rlsguard.audit.rules import policies, recursion, surface
from rlsguard.audit.rules.base import RULES, Bucket, LintContext, Rule

__all__ = ["RULES", "Bucket", "LintContext", "Rule", "policies", "recursion", "surface"]
