"""The per-connection session used when ``manage_session=True``.

Each Socket.IO connection gets a copy of the Flask session as it was at
connection time; handlers may change it and the changes persist across that
connection's events, but they never reach the HTTP cookie.
"""

from flask.sessions import SessionMixin


class ManagedSession(dict, SessionMixin):
    """A plain dict that also quacks like a Flask session."""
