"""Inkwell: a synchronous REST API for users, profiles and posts."""
