"""Compound scaling: from a scaling point to an architecture spec and a network graph."""
