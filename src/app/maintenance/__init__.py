"""Housekeeping run by the workers: deleting tokens and outbox rows nobody needs any more."""
