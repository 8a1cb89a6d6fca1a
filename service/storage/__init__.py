"""All SQL lives in this package: one function per query, named for what it returns."""
