"""The REST API for developers, under /api/v1/: thin views over the selectors and the services."""
