"""Run every scenario on flask_socketio and on flask_socketio_fast; the recordings must match.

A failure lists the steps whose observations differ, with both sides of each.
"""
import importlib
import pprint

import pytest

from .recorder import Recorder
from .scenarios import SCENARIOS

REFERENCE = 'flask_socketio'
FAST = 'flask_socketio_fast'


def _record(module_name, scenario):
    mod = importlib.import_module(module_name)
    rec = Recorder(mod)
    scenario(mod, rec)
    return rec.result()


def _fast_or_skip():
    try:
        importlib.import_module(FAST)
    except ImportError as exc:
        pytest.skip('flask_socketio_fast is not importable yet: %r' % (exc,))


def _differences(reference, fast, labels=('reference', 'fast'), limit=10):
    """Describe the differing steps (up to ``limit``), or return None if the runs agree."""
    found = []
    for index, (ref_step, fast_step) in enumerate(zip(reference, fast)):
        if ref_step == fast_step:
            continue
        detail = {}
        for key in ref_step:
            if ref_step.get(key) == fast_step.get(key):
                continue
            if key == 'clients':
                names = sorted(set(ref_step[key]) | set(fast_step[key]))
                detail[key] = {
                    n: {labels[0]: ref_step[key].get(n), labels[1]: fast_step[key].get(n)}
                    for n in names if ref_step[key].get(n) != fast_step[key].get(n)}
            else:
                detail[key] = {labels[0]: ref_step[key], labels[1]: fast_step[key]}
        found.append('step %d %r differs:\n%s' % (index, ref_step['step'],
                                                   pprint.pformat(detail)))
    if len(reference) != len(fast):
        found.append('recordings have %d (%s) and %d (%s) steps'
                     % (len(reference), labels[0], len(fast), labels[1]))
    if not found:
        return None
    more = len(found) - limit
    return '\n'.join(found[:limit]) + ('\n... and %d more differing steps' % more
                                        if more > 0 else '')


@pytest.mark.parametrize('name', sorted(SCENARIOS))
def test_scenario_matches_reference(name):
    _fast_or_skip()
    reference = _record(REFERENCE, SCENARIOS[name])
    fast = _record(FAST, SCENARIOS[name])
    difference = _differences(reference, fast)
    assert difference is None, difference


@pytest.mark.parametrize('name', sorted(SCENARIOS))
def test_scenario_is_deterministic_and_observable(name):
    # guards the harness itself: two reference runs agree (sids are fully relabelled, nothing
    # depends on timing), and the scenario observes something
    first = _record(REFERENCE, SCENARIOS[name])
    second = _record(REFERENCE, SCENARIOS[name])
    difference = _differences(first, second, ('first run', 'second run'))
    assert difference is None, difference
    assert any(step['notes'] or any(c['received'] or c['packets'] for c in step['clients'].values())
               for step in first)
