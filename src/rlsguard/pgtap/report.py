"""The results of several test files as one TAP stream or as JUnit XML (for CI servers).

TAP: one line per file (``ok 1 - supabase/tests/01_schema.sql``), each preceded by the file's
own TAP indented four spaces (a TAP subtest), so any TAP consumer reads both levels.
JUnit: one ``testsuite`` per file, one ``testcase`` per assertion with its file and line, and
a ``testcase`` named after the file's problem when it stopped early or ran a bad plan.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from rlsguard.pgtap.runner import FileResult


def display(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)


def tap_report(results: Sequence[FileResult], root: Path | None = None) -> str:
    lines = [f"1..{len(results)}"]
    for number, result in enumerate(results, 1):
        name = display(result.path, root)
        lines.extend(f"    {line}" for line in result.tap.tap_lines())
        if result.error is not None:
            lines.extend(f"    # {line}" for line in result.error.render(name).splitlines())
        status = "ok" if result.passed else "not ok"
        lines.append(f"{status} {number} - {name}")
        if not result.passed:
            lines.extend(f"# {problem}" for problem in result.problems() if result.error is None)
    return "\n".join(lines) + "\n"


def junit_report(results: Sequence[FileResult], root: Path | None = None) -> str:
    suites = ET.Element("testsuites", name="rlsguard test-db")
    total = failures = 0
    for result in results:
        name = display(result.path, root)
        suite = ET.SubElement(suites, "testsuite", name=name)
        cases = 0
        failed = 0
        for assertion in result.tap.assertions:
            cases += 1
            case = ET.SubElement(
                suite,
                "testcase",
                name=f"{assertion.number} - {assertion.description}".rstrip(" -"),
                classname=name,
                file=name,
                line=str(assertion.line or 0),
            )
            if assertion.directive == "SKIP":
                ET.SubElement(case, "skipped", message=assertion.reason)
            elif not assertion.passed:
                failed += 1
                ET.SubElement(
                    case, "failure", message=f"not ok {assertion.number}"
                ).text = "\n".join(assertion.diagnostics)
        stopped = [p for p in result.problems() if not p.startswith("Failed ")]
        if stopped:
            cases += 1
            failed += 1
            line = result.error.line if result.error is not None else 0
            case = ET.SubElement(
                suite, "testcase", name="file", classname=name, file=name, line=str(line)
            )
            ET.SubElement(case, "failure", message=stopped[0].splitlines()[0]).text = "\n".join(
                stopped
            )
        suite.set("tests", str(cases))
        suite.set("failures", str(failed))
        suite.set("time", f"{result.seconds:.3f}")
        total += cases
        failures += failed
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
