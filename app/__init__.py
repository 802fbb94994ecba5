"""Bordin: scores therapeutic alliance questionnaires and watches the alliance for ruptures.
ARCHITECTURE.md says what each part owns and which may import which."""
