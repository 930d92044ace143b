"""Repository root: makes ``tests`` importable as a package for shared test helpers."""
