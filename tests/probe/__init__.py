"""Tests of the Django-free probe layer (mamori.probe) and ``mamori scan``."""
