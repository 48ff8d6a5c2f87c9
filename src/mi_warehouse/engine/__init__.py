"""Talking to HiveServer2: the embedded server, sessions, statement splitting, Beeline."""
