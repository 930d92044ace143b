"""The TAP parser: pgTAP's output into assertions, diagnostics and TAP::Harness' verdict."""

from __future__ import annotations

from rlsguard.pgtap.tap import parse


def test_assertions_keep_their_sql_line_and_diagnostics() -> None:
    stream = parse(
        [
            (2, "1..3"),
            (4, "ok 1 - visible rows"),
            (
                5,
                'not ok 2 - hidden rows\n# Failed test 2: "hidden rows"\n#         have: 3\n'
                "#         want: 2",
            ),
            (9, "ok 3"),
            (11, "# Looks like you failed 1 test of 3"),
        ]
    )
    assert stream.planned == 3
    assert [(a.number, a.ok, a.line) for a in stream.assertions] == [
        (1, True, 4),
        (2, False, 5),
        (3, True, 9),
    ]
    failed = stream.failed
    assert [a.description for a in failed] == ["hidden rows"]
    assert failed[0].got_expected() == ("3", "2")
    assert failed[0].diagnostics[0] == '# Failed test 2: "hidden rows"'
    assert stream.diagnostics == ["# Looks like you failed 1 test of 3"]
    assert stream.problems() == ["Failed 1/3 subtests (tests 2)"]


def test_throws_ok_diagnostics_read_as_got_and_expected() -> None:
    stream = parse(
        [
            (
                7,
                'not ok 1 - threw\n# Failed test 1: "threw"\n#       caught: no exception\n'
                "#       wanted: 42501",
            )
        ]
    )
    assert stream.assertions[0].got_expected() == ("no exception", "42501")


def test_a_failing_todo_and_skips_pass() -> None:
    stream = parse(
        [
            (1, "1..3"),
            (2, 'not ok 1 - later # TODO not yet\n# Failed (TODO) test 1: "later"'),
            (3, "ok 2 # SKIP no mfa"),
            (4, "ok 3 - fine"),
        ]
    )
    todo, skip, _ = stream.assertions
    assert (todo.directive, todo.reason, todo.description, todo.passed) == (
        "TODO",
        "not yet",
        "later",
        True,
    )
    assert (skip.directive, skip.reason) == ("SKIP", "no mfa")
    assert stream.passed


def test_plan_problems_fail_the_file() -> None:
    assert parse([(1, "ok 1")]).problems() == ["No plan found in TAP output"]
    assert parse([(1, "1..2"), (2, "ok 1")]).problems() == [
        "Bad plan.  You planned 2 tests but ran 1."
    ]
    out_of_order = parse([(1, "1..2"), (2, "ok 2"), (3, "ok 1")]).problems()
    assert out_of_order == ["Tests out of sequence: found test 2, expected 1"]


def test_output_that_is_not_tap_is_ignored() -> None:
    stream = parse([(1, "1..1"), (3, "6f1c2a4e-0000-4000-8000-000000000000"), (4, "ok 1")])
    assert stream.passed
    assert stream.tap_lines() == ["1..1", "ok 1"]


def test_skip_all_plan() -> None:
    stream = parse([(1, "1..0 # SKIP no pgsodium here")])
    assert stream.skip_all == "no pgsodium here"
    assert stream.passed
