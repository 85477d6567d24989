"""Ingest: the front door for POS systems and partner brands (issue 3 grows it)."""
