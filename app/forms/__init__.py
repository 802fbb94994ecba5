"""The patient form: form links (invitations) for one episode and session, and the pages that
record each questionnaire through the same use case as the API."""
