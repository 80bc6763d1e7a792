"""The only code that imports ``websockets`` and ``ocpp``: sockets, frames, version adapters."""
