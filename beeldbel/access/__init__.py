"""Access to client data: one pure policy that issues grants, and the grants it issues."""
