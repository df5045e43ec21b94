"""pytest plugin: deselects the irctest tests listed in excluded.txt.

pytest's own --deselect matches id prefixes, so "testAway" would also drop
"testAwayAck"; here a line names one test id exactly, or a parametrized
test and thereby all its parameter sets ("id[...]").
"""

from pathlib import Path

EXCLUDED = Path(__file__).with_name("excluded.txt")


def excluded_ids():
    for line in EXCLUDED.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            yield line.strip()


def pytest_collection_modifyitems(config, items):
    excluded = set(excluded_ids())
    keep, drop = [], []
    for item in items:
        base = item.nodeid.split("[", 1)[0]
        (drop if item.nodeid in excluded or base in excluded else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
