"""Legal entities: which entity owns a record, which one the store and an admin act in."""
