"""Fixtures of the desk's tests. Each part of the desk keeps its own helpers in
``tests/desk/<part>_support.py``; only what every part needs goes here."""
