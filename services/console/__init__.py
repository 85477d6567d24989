"""The operator console: a backend-for-frontend that signs operators in through ingest and calls the
other services' APIs with the operator's own token, rendering server-side pages (Jinja2)."""
