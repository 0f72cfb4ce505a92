"""Devices: loaned tablets — inventory, loans and returns, enrollment, kiosk, heartbeats."""
