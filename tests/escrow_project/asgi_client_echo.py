"""A tiny ASGI app that answers the client address uvicorn gave it (for the proxy-trust test)."""


async def app(scope, receive, send):
    host = (scope.get("client") or ["?"])[0]
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": host.encode()})
