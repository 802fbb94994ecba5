"""The clinician console: sign-in (one-time links, local accounts), sessions, the worklist and
the episode view."""
