"""Who is asking: principals, roles, signing keys and access tokens."""
