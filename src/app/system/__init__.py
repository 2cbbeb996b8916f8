"""Liveness and other system routes."""
