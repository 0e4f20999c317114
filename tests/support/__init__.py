"""Support code for the tests: views, URLconfs and helpers (no tests here)."""
