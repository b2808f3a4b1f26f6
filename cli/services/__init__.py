"""Workflows both front ends call (the CLI commands and the app).

A service takes plain inputs and a `Frontend`, and returns a plain result. It never
prints, prompts or parses options: those belong to the front end that called it.
"""
