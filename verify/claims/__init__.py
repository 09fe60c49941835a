"""Importing this package registers every implemented claim's check (one module per claim)."""

from . import a1, a2, a3, a4, a5, a6, m1, m2, m3, m4, s1, s2, s3, s4, s5  # noqa: F401
