"""Differential suite: the same scenarios on flask_socketio and flask_socketio_fast."""
