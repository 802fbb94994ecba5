"""Shared plumbing, with no HTTP: settings, the database (engine, tables, every SQL query), the
error hierarchy, logs, plain JSON values and list cursors."""
