"""Requests to a running explorer over real HTTP (urllib), for tests/explore and the explorer benchmark."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

#: images of the test split each served run shows in tests/explore
N_POINTS = 200


def call(server, path: str, body=None, token: str | None = "own", header: bool = True, raw: bytes | None = None):
    """(status, JSON) of one request to ``server``; ``token``: "own" (the server's), None, or another string."""
    token = server.explorer.token if token == "own" else token
    url = f"http://127.0.0.1:{server.port}{path}"
    headers = {"Content-Type": "application/json"}
    if token is not None and header:
        headers["Authorization"] = f"token {token}"
    elif token is not None:
        url += ("&" if "?" in url else "?") + f"token={token}"
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        text = exc.read()
        try:
            return exc.code, json.loads(text)
        except ValueError:
            return exc.code, text.decode(errors="replace")
