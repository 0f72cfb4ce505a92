"""Signaling: the Socket.IO edge of calls — waiting room, negotiation, reconnection."""
