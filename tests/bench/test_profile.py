"""The profile report sums py-spy's collapsed stacks into self and inclusive samples."""

from __future__ import annotations

from bench.profile import report, tally

RAW = """\
main (app/cli.py:10);serve (uvicorn/main.py:5);execute (app/graphql/execution.py:150) 6
main (app/cli.py:10);serve (uvicorn/main.py:5);encode (app/graphql/http.py:90) 3
main (app/cli.py:10);serve (uvicorn/main.py:5) 1
"""


def test_self_and_inclusive_samples_per_function() -> None:
    total, own, inclusive = tally(RAW)
    assert total == 10
    assert own["execute (app/graphql/execution.py)"] == 6
    assert own["encode (app/graphql/http.py)"] == 3
    assert own["serve (uvicorn/main.py)"] == 1
    assert inclusive["serve (uvicorn/main.py)"] == 10
    assert inclusive["main (app/cli.py)"] == 10


def test_the_report_ranks_by_share() -> None:
    text = report(RAW, top=2)
    self_part = text.split("inclusive:")[0]
    assert self_part.index("execute") < self_part.index("encode")
    assert " 60.0%  execute (app/graphql/execution.py)" in text
    assert report("", top=5) == "no samples"
