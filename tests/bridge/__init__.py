"""Tests of the Wyoming bridge."""
