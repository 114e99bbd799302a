"""Audit log: who moved money or changed permissions, when, and what changed."""
