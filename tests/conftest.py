"""Puts tests/ on sys.path (pytest's rootdir-relative conftest rule), so that the test directories share
``shmleaks``; every directory keeps its own fixtures in its own conftest.py."""
