"""Jinja-templated HiveQL models: ref, source, config, var, macros, tests."""
