"""The one exception both WebSocket frame codec twins raise.

Kept in its own module so ``wsframe_c`` and ``wsframe_py`` raise the very
same class: a caller catches ``FrameError`` whichever twin is active.
"""

# close codes the parser reports (RFC 6455 section 7.4.1)
PROTOCOL_ERROR = 1002
INVALID_DATA = 1007
MESSAGE_TOO_BIG = 1009


class FrameError(ValueError):
    """Input that breaks the WebSocket protocol.

    ``code`` is the close code to send back (1002 protocol error, 1007 bad
    UTF-8, 1009 message too big), ``reason`` a short text for the close frame
    and the log.
    """

    def __init__(self, code, reason):
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self):
        return f'{self.code}: {self.reason}'


__all__ = ['FrameError', 'PROTOCOL_ERROR', 'INVALID_DATA', 'MESSAGE_TOO_BIG']
