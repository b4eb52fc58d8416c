"""The HTTP service (FastAPI): the app factory, the access gate and one router per resource."""
