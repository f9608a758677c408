"""advsim test suite."""
