"""The results history: every run kept with its commit, trends across commits, and a baseline that follows a branch.

``store.py`` keeps runs in SQLite (a file, the default) or PostgreSQL through SQLAlchemy, under a versioned
schema of its own; ``provenance.py`` says where a run came from (git, ``GITHUB_*``) and what it measured (the
config hash); ``trend.py`` turns stored runs into series, trends with paired verdicts, and the baseline of a branch.
"""
