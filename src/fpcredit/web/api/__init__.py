"""One router per resource; each route is thin and has its rule in web/rules.py."""
