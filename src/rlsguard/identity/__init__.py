"""Identity: GoTrue-shaped tokens, personas, and PostgREST-exact impersonated sessions."""
