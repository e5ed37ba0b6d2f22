"""Placeholder: commands land here."""
