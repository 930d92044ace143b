"""A structural check of SARIF 2.1.0 logs: the parts code-scanning uploads rely on.

Not the full JSON schema (``jsonschema`` is not a dependency): the required properties and
types of the log, run, tool, rule, result and location objects (SARIF 2.1.0 sections 3.13,
3.14, 3.18, 3.19, 3.27, 3.28, 3.29, 3.30, 3.49), and the cross-references between them.
"""

from __future__ import annotations

from typing import Any

LEVELS = {"none", "note", "warning", "error"}
SUPPRESSION_KINDS = {"inSource", "external"}


def problems(log: Any) -> list[str]:
    """Everything structurally wrong with ``log`` (empty: valid)."""
    out: list[str] = []

    def need(condition: bool, what: str) -> bool:
        if not condition:
            out.append(what)
        return condition

    if not need(isinstance(log, dict), "the log is not an object"):
        return out
    need(log.get("version") == "2.1.0", "version must be '2.1.0'")
    need(isinstance(log.get("$schema"), str) and "sarif" in log["$schema"], "$schema missing")
    runs = log.get("runs")
    if not need(isinstance(runs, list) and runs, "runs must be a non-empty array"):
        return out
    for r, run in enumerate(runs):
        driver = (run.get("tool") or {}).get("driver") if isinstance(run, dict) else None
        if not need(isinstance(driver, dict), f"runs[{r}].tool.driver missing"):
            continue
        need(isinstance(driver.get("name"), str) and driver["name"], f"runs[{r}] driver name")
        rules = driver.get("rules", [])
        need(isinstance(rules, list), f"runs[{r}].tool.driver.rules must be an array")
        ids = []
        for i, rule in enumerate(rules):
            where = f"runs[{r}].tool.driver.rules[{i}]"
            need(isinstance(rule.get("id"), str) and rule["id"], f"{where}.id")
            ids.append(rule.get("id"))
            short = rule.get("shortDescription")
            need(isinstance(short, dict) and isinstance(short.get("text"), str),
                 f"{where}.shortDescription.text")  # fmt: skip
            level = (rule.get("defaultConfiguration") or {}).get("level", "warning")
            need(level in LEVELS, f"{where}.defaultConfiguration.level {level!r}")
        need(len(ids) == len(set(ids)), f"runs[{r}] rule ids are not unique")
        results = run.get("results")
        if not need(isinstance(results, list), f"runs[{r}].results must be an array"):
            continue
        for k, result in enumerate(results):
            where = f"runs[{r}].results[{k}]"
            rule_id = result.get("ruleId")
            need(rule_id in ids, f"{where}.ruleId {rule_id!r} is not a rule of the driver")
            if "ruleIndex" in result:
                index = result["ruleIndex"]
                need(isinstance(index, int) and 0 <= index < len(ids) and ids[index] == rule_id,
                     f"{where}.ruleIndex does not point at {rule_id!r}")  # fmt: skip
            need(result.get("level", "warning") in LEVELS, f"{where}.level")
            message = result.get("message")
            need(isinstance(message, dict) and isinstance(message.get("text"), str)
                 and message["text"], f"{where}.message.text")  # fmt: skip
            for n, location in enumerate(result.get("locations", [])):
                physical = location.get("physicalLocation")
                if physical is None:
                    continue
                uri = (physical.get("artifactLocation") or {}).get("uri")
                need(isinstance(uri, str) and uri and "\\" not in uri,
                     f"{where}.locations[{n}] artifactLocation.uri")  # fmt: skip
                region = physical.get("region")
                if region is not None:
                    line = region.get("startLine")
                    need(isinstance(line, int) and line >= 1, f"{where}.locations[{n}] startLine")
            for s in result.get("suppressions", []):
                need(s.get("kind") in SUPPRESSION_KINDS, f"{where}.suppressions kind")
    return out
