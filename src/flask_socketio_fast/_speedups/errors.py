"""Exceptions raised by the packet decoders for malformed input.

A decoder fed with bytes from the network must only ever raise a
``ValueError``; callers rely on catching that one family.  Upstream
python-socketio raises ``TypeError``, ``IndexError`` or ``RecursionError`` for
some inputs, so each class below is *both* a ``ValueError`` and the upstream
type: ``except TypeError`` written against python-socketio keeps working,
and so does ``except ValueError``.  Both twins (compiled and pure Python)
raise these same classes, with upstream's messages.
"""


class DecodeTypeError(ValueError, TypeError):
    """Input of a type the decoder cannot parse (e.g. bytes for a text packet),
    or a binary placeholder whose ``num`` is not an integer."""


class DecodeAttributeError(ValueError, AttributeError):
    """Input that is neither text nor bytes (e.g. a memoryview)."""


class DecodeIndexError(ValueError, IndexError):
    """A binary placeholder refers to an attachment that does not exist."""


class DecodeKeyError(ValueError, KeyError):
    """A JSONP polling payload without its ``d`` field."""


class DecodeRecursionError(ValueError, RecursionError):
    """Input nested deeper than the decoder's (or the interpreter's) limit."""


class ProtocolViolation(ValueError):
    """Input that upstream accepts but the protocol forbids, refused on
    purpose (the strictness rules of docs/security.md): a packet type, ack
    id or attachment count in non-ASCII digits, ``NaN``/``Infinity`` in
    JSON, binary placeholders that do not number the attachments.  Only
    raised by our decoders, so the engine can tell it from an application
    error and close the connection that sent it."""


__all__ = ['DecodeAttributeError', 'DecodeTypeError', 'DecodeIndexError',
           'DecodeKeyError', 'DecodeRecursionError', 'ProtocolViolation']
