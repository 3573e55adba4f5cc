"""aauth_aiohttp: placeholder, filled by the driver work (issue 4)."""
