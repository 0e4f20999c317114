"""Support code for the test suite: views, URLconfs, middleware, profiles and helpers.

Nothing here is collected as a test; test modules import from here and never from each other.
"""
