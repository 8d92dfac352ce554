"""Reproducibility suite for MSL (Zunair & Ben Hamza, WACV 2024)."""

__version__ = "0.1.0"
