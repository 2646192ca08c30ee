"""One router per resource; each is built from ApiDeps by a `*_router(deps, auth)` factory."""
