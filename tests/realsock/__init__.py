"""Real sockets, real clients: the scenario app under socketio.run(),
driven by python-socketio."""
