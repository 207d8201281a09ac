"""The HTTP API: routes and their OpenAPI pieces."""
