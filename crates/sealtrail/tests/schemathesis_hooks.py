"""Schemathesis hooks for tests/schemathesis.sh: sink traffic stays on this host.

Schemathesis creates and changes sinks with settings generated from the
document, and a sink delivers at once (its own creation is an event it
matches). Generated and documented destinations name arbitrary hosts, and
Datadog and Sentinel settings default to public endpoints. So, right before
each request is sent:

- a sink creation whose destination is not provably on loopback gets the
  destination `{"url": "http://127.0.0.1:9/"}` (a closed port; for a kind
  without `url` the server refuses the body), and is created paused;
- a sink update whose destination is not provably on loopback gets the same
  destination.

A destination is on loopback when every field that names where to connect
(`url`, `endpoint`, `authority_url`, `host`) is present as needed and names
127.0.0.1, localhost or [::1] in the plainest spelling; anything else counts
as elsewhere. Requests that cannot create or re-point a sink go unchanged.
The script also lists the sinks after the runs and fails if any points
elsewhere.
"""

import re

import schemathesis

SAFE_DESTINATION = {"url": "http://127.0.0.1:9/"}
_LOOPBACK_URL = re.compile(
    r"https?://(?:127\.0\.0\.1|localhost|\[::1\])(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~/-]*)?"
)
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def on_loopback(destination):
    """Whether a sink with these destination settings connects only to loopback."""
    if not isinstance(destination, dict):
        return False
    for key in ("url", "endpoint", "authority_url"):
        if key in destination:
            value = destination[key]
            if not (isinstance(value, str) and _LOOPBACK_URL.fullmatch(value)):
                return False
    if "host" in destination:
        host = destination["host"]
        if not (isinstance(host, str) and host in _LOOPBACK_HOSTS):
            return False
    # Datadog without `url` and Sentinel without `authority_url` use public
    # defaults; syslog connects to `host`.
    return (
        "url" in destination
        or "host" in destination
        or ("endpoint" in destination and "authority_url" in destination)
    )


@schemathesis.hook
def before_call(context, case, kwargs):
    path = case.operation.path
    method = case.method.upper()
    body = case.body
    if not isinstance(body, dict):
        return
    if path == "/v1/compliance/sinks" and method == "POST":
        if "destination" in body and not on_loopback(body["destination"]):
            body["destination"] = dict(SAFE_DESTINATION)
        if isinstance(body.get("paused", False), bool):
            body["paused"] = True
    elif path == "/v1/compliance/sinks/{id}" and method in ("PATCH", "PUT"):
        if body.get("destination") is not None and not on_loopback(body["destination"]):
            body["destination"] = dict(SAFE_DESTINATION)
