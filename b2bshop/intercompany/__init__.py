"""Intercompany: one group's entities buying from each other (SPEC C1-C4)."""
