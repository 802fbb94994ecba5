"""The HTTP layer every router shares: the application's state, problems (RFC 9457), the
request context (request id, headers, audit, the answer to any failure), body parsing and
size, language, orjson responses, the OpenAPI document's helpers and the shared wire types."""
