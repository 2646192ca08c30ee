"""Test-suite speed: FastAPI apps built many times share their parameter validators.

Every test that starts Ampyre builds its REST API, and FastAPI builds a pydantic
TypeAdapter for each of the ~1,800 parameters of its ~260 routes: about a second per app,
most of the suite's set-up time. A parameter with the same annotation, metadata and
field attributes gets the same validator, so one built by an earlier app is used again
(the routes, dependencies and everything else are still built per app). Only in tests;
production builds its one app as FastAPI does. If FastAPI's internals change so that
this no longer fits, nothing is shared and the tests only run slower.
"""

from __future__ import annotations

from typing import Any


def share_type_adapters() -> bool:
    try:
        from fastapi._compat import v2
    except ImportError:
        return False
    model_field = getattr(v2, "ModelField", None)
    as_dict = getattr(v2, "asdict", None)
    original = getattr(model_field, "__post_init__", None)
    if model_field is None or as_dict is None or original is None:
        return False
    if getattr(original, "_shared", False):
        return True
    adapters: dict[Any, Any] = {}

    def post_init(self: Any) -> None:
        if self.config is not None:
            original(self)
            return
        d = as_dict(self.field_info)
        # type(value) too: 1 == True, but they are different defaults
        attributes = tuple((k, type(v), v) for k, v in sorted(d["attributes"].items()))
        try:
            key = (d["annotation"], tuple(d["metadata"]), attributes)
            found = adapters.get(key)
        except TypeError:  # something unhashable (a dict of examples...): build it
            original(self)
            return
        if found is None:
            original(self)
            adapters[key] = self._type_adapter
        else:
            self._type_adapter = found

    post_init._shared = True  # type: ignore[attr-defined]
    model_field.__post_init__ = post_init
    return True
