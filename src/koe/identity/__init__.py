"""Who is calling: password hashing, sessions, login throttling, admin devices."""
