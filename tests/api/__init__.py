"""Behaviour tests of the documented Flask-SocketIO API, run on both implementations."""
