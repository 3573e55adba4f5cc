"""aauth_trio: placeholder, filled by the driver work (issue 4)."""
