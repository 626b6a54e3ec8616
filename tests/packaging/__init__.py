"""Tests of what is shipped: the bridge's wheel, installed as users install it."""
