"""aauth_httpx: placeholder, filled by the driver work (issue 4)."""
