"""JSON Schema validation for the tests, each schema checked against its meta-schema once.

``jsonschema.validate`` checks the schema itself (against its draft's meta-schema, the slow
part) and builds a new validator on every call; the suite validates hundreds of responses
against a handful of schemas (a profile's body schema, an OpenAPI document's response).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema.protocols import Validator
from jsonschema.validators import validator_for


def validate(instance: Any, schema: dict[str, Any]) -> None:
    """``jsonschema.validate(instance, schema)``: raises ``ValidationError`` (or, for a schema
    that is not valid itself, ``SchemaError``) the same way."""
    _validator(json.dumps(schema, sort_keys=True)).validate(instance)


@lru_cache(maxsize=64)
def _validator(schema_text: str) -> Validator:
    schema = json.loads(schema_text)
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)  # type: ignore[no-any-return]
