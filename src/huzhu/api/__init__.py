"""The HTTP API adapter (``/api/v1``): request and response schemas and thin endpoints that parse,
authorise, call one domain service and serialise. Shares the HTTP layer (``huzhu.http``) with the
web pages and never imports them."""
