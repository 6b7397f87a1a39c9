"""The orjson adapter: every behaviour where it differs from the standard
library (or from python-engineio's guarded ``json``), pinned.

``docs/codec.md`` lists the same items; keep both in step.
"""

import collections
import dataclasses
import datetime
import decimal
import enum
import json as stdjson
import uuid

import pytest
from engineio import json as engineio_json

from flask_socketio_fast import jsonmod

from .support import run, same, same_error


class Colour(enum.Enum):
    RED = 'red'


class Level(enum.IntEnum):
    HIGH = 3


class Mode(str, enum.Enum):
    FAST = 'fast'


class Ratio(float):
    pass


@dataclasses.dataclass
class Point:
    x: int


def compact(obj):
    return stdjson.dumps(obj, separators=(',', ':'))


@pytest.fixture(params=['adapter', 'twin'])
def j(request, impl):
    """``dumps``/``loads`` of the adapter module and of each twin."""
    if request.param == 'adapter':
        return jsonmod.dumps, jsonmod.loads
    return impl.codec.json_dumps, impl.codec.json_loads


# --- identical to the stdlib ------------------------------------------------

IDENTICAL = [
    None, True, 0, -1, 'ascii', '', [], {}, [1, [2, [3]]], {'a': {'b': []}},
    (1, 2), 2 ** 63 - 1, -2 ** 63, 2 ** 64 - 1, 1.5, -0.0, 5e-324,
    collections.OrderedDict(b=1, a=2), Level.HIGH, Mode.FAST, Ratio(0.5),
    {'control': '\x00\x1f\n\t"\\'},
]


@pytest.mark.parametrize('obj', IDENTICAL, ids=repr)
def test_same_text_as_stdlib(j, obj):
    dumps, _ = j
    assert dumps(obj) == compact(obj)


# Everything the stdlib accepts only by its own rules is handed to it:
# the text is then the stdlib's, byte for byte.
FALLBACK = [
    {1: 'int key', None: 'none', True: 'bool', 1.5: 'float'},  # non-str keys
    [2 ** 64, -2 ** 63 - 1, 10 ** 40],  # beyond 64 bits
    ['\ud800 lone surrogate'],
    [[[[[[[[[[]]]]]]]]]] * 1,
]


@pytest.mark.parametrize('obj', FALLBACK, ids=lambda o: repr(o)[:30])
def test_stdlib_decides_what_orjson_refuses(j, obj):
    dumps, loads = j
    assert dumps(obj) == compact(obj)
    assert same(loads(dumps(obj)), stdjson.loads(compact(obj)))


def test_nesting_beyond_orjson_limit_goes_to_stdlib(j):
    dumps, _ = j
    deep = []
    for _ in range(300):  # orjson stops at 255 levels
        deep = [deep]
    assert dumps(deep) == compact(deep)


@pytest.mark.parametrize('obj', [
    object(), {1, 2}, b'bytes', bytearray(b'x'), memoryview(b'x'), 1j,
    decimal.Decimal('1.5'), datetime.datetime(2020, 1, 1),
    datetime.date(2020, 1, 1), datetime.time(1, 2), Point(1),
    {(1, 2): 'tuple key'}, {b'k': 1}, Colour,
], ids=repr)
def test_unserializable_raises_typeerror_like_stdlib(j, obj):
    dumps, _ = j
    with pytest.raises(TypeError):
        compact(obj)
    with pytest.raises(TypeError):
        dumps(obj)


def test_circular_reference_is_a_valueerror_like_stdlib(j):
    dumps, _ = j
    loop = []
    loop.append(loop)
    ours, theirs = run(dumps, loop), run(compact, loop)
    assert ours[0] == theirs[0] == 'err'
    assert same_error(ours[1], theirs[1])


# --- documented differences -------------------------------------------------

def test_difference_non_ascii_is_raw_utf8(j):
    dumps, loads = j
    assert dumps(['é€😀', '\u2028']) == '["é€😀",\"\u2028\"]'
    assert compact(['é']) == '["\\u00e9"]'
    assert loads(dumps(['é€😀'])) == stdjson.loads(compact(['é€😀']))


def test_difference_float_formatting(j):
    dumps, loads = j
    assert dumps([1e-7, 1e16, 0.1]) == '[1e-7,1e+16,0.1]'
    assert compact([1e-7, 1e16, 0.1]) == '[1e-07,1e+16,0.1]'
    assert loads(dumps([1e-7, 1e16])) == [1e-7, 1e16]


def test_difference_nan_and_infinity_encode_as_null(j):
    dumps, _ = j
    assert dumps([float('nan'), float('inf'), -float('inf')]) == \
        '[null,null,null]'
    assert compact([float('nan'), float('inf'), -float('inf')]) == \
        '[NaN,Infinity,-Infinity]'


def test_difference_enum_and_uuid_are_serialized(j):
    # the stdlib raises TypeError for these two; orjson has no switch
    dumps, _ = j
    with pytest.raises(TypeError):
        compact(Colour.RED)
    assert dumps(Colour.RED) == '"red"'
    assert dumps(uuid.UUID(int=1)) == '"00000000-0000-0000-0000-000000000001"'


def test_difference_output_is_always_compact():
    # python-socketio asks for compact output; the pub/sub managers call
    # dumps(obj) without separators, where the stdlib would add spaces
    assert jsonmod.dumps({'a': [1, 2]}) == '{"a":[1,2]}'
    assert jsonmod.dumps({'a': 1}, separators=(',', ':')) == '{"a":1}'
    assert jsonmod.dumps({'a': 1}, separators=[',', ':']) == '{"a":1}'


def test_other_options_go_to_stdlib_unchanged():
    obj = {'b': [1, 'é'], 'a': None}
    for kwargs in ({'indent': 2}, {'sort_keys': True},
                   {'ensure_ascii': False}, {'separators': (', ', ': ')},
                   {'default': str}):
        assert jsonmod.dumps(obj, **kwargs) == stdjson.dumps(obj, **kwargs)
    assert jsonmod.dumps(datetime.date(2020, 1, 2), default=str) == \
        '"2020-01-02"'
    assert jsonmod.loads('{"a": 1.5}', parse_float=decimal.Decimal) == \
        {'a': decimal.Decimal('1.5')}


# --- loads ------------------------------------------------------------------

LOADS_SAME = [
    '1', '-0', '-0.0', '1.5e3', '"é"', '"\\u00e9"', '"\\ud83d\\ude00"',
    '{"a":1,"a":2}', ' [1] ', '\t{}\n', '[' * 100 + ']' * 100,
    '18446744073709551615', '18446744073709551616', '-9223372036854775809',
    '1' * 25, '[' + '9' * 100 + ']', '-' + '9' * 99, '0.' + '1' * 30,
    '1e400', '-1e400', 'NaN', '[Infinity,-Infinity]', '"\\ud800"',
    '"a\x7fb"', '"12345678901234567890"',
]


@pytest.mark.parametrize('text', LOADS_SAME, ids=lambda t: repr(t)[:30])
@pytest.mark.parametrize('as_bytes', [False, True])
def test_loads_same_value_as_engineio_json(j, text, as_bytes):
    _, loads = j
    value = text.encode() if as_bytes else text
    assert same(loads(value), engineio_json.loads(value))


LOADS_REJECTED = [
    '', ' ', '[1,]', '01', '1.', '.5', '+1', "'a'", '"a\nb"', '[1]\x00',
    '\ufeff[1]', '\x0b[1]', '{"a"}', '"\\x41"', '[' + '1' * 101 + ']',
    '-' + '1' * 100, 'nan', 'infinity', '[1] [2]',
]


@pytest.mark.parametrize('text', LOADS_REJECTED, ids=lambda t: repr(t)[:30])
def test_loads_rejects_what_engineio_json_rejects(j, text):
    _, loads = j
    ours, theirs = run(loads, text), run(engineio_json.loads, text)
    assert ours[0] == theirs[0] == 'err'
    assert same_error(ours[1], theirs[1])
    assert isinstance(ours[1], ValueError)


def test_loads_big_integers_stay_exact(j):
    # orjson alone would return 1.1111111111111111e+24 here
    _, loads = j
    assert loads('[1111111111111111111111111]') == [1111111111111111111111111]
    assert type(loads('-9999999999999999999')) is int


def test_loads_integer_length_guard(j):
    _, loads = j
    assert loads('1' * 100) == int('1' * 100)
    with pytest.raises(ValueError, match='Integer is too large'):
        loads('1' * 101)


@pytest.mark.parametrize('data', [b'\xef\xbb\xbf[1]', '[1]'.encode('utf-16'),
                                  '["é"]'.encode('utf-32-le'),
                                  bytearray(b'[1]')], ids=repr)
def test_loads_bytes_encodings_like_stdlib(j, data):
    _, loads = j
    assert loads(data) == stdjson.loads(data)


def test_loads_invalid_utf8_is_a_valueerror(j):
    _, loads = j
    ours, theirs = run(loads, b'["\xff"]'), run(engineio_json.loads,
                                                 b'["\xff"]')
    assert ours[0] == theirs[0] == 'err'
    assert same_error(ours[1], theirs[1])


@pytest.mark.parametrize('value', [memoryview(b'[1]'), 12, None])
def test_loads_other_types_typeerror_like_stdlib(j, value):
    _, loads = j
    ours, theirs = run(loads, value), run(engineio_json.loads, value)
    assert ours[0] == theirs[0] == 'err'
    assert same_error(ours[1], theirs[1])


def test_loads_deep_nesting_is_a_valueerror(j):
    _, loads = j
    for text in ('[' * 100000, '[' * 100000 + ']' * 100000,
                 '{"a":' * 5000 + '1' + '}' * 5000):
        with pytest.raises(ValueError):
            loads(text)
        with pytest.raises(ValueError):
            loads(text.encode())


def test_difference_nesting_limit_is_orjsons(j):
    # the stdlib's limit depends on the interpreter stack; orjson parses up
    # to 1024 levels whatever the stack depth
    _, loads = j
    depth = 1000
    assert loads('[' * depth + ']' * depth) is not None
    with pytest.raises(ValueError):
        loads('[' * 1025 + ']' * 1025)  # stdlib fallback hits its limit too


def test_decode_error_type_is_stdlibs():
    with pytest.raises(stdjson.JSONDecodeError):
        jsonmod.loads('[1,')
    assert jsonmod.JSONDecodeError is stdjson.JSONDecodeError
