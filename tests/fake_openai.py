"""A local OpenAI-compatible server over real HTTP: records requests, answers or fails on demand.

Each request takes the next behaviour from `script` (then `default`): "ok", an HTTP status
(429 comes with `retry_after` in a Retry-After header), "hang" (never answers), "malformed" (a
200 whose body is not JSON), "empty" (an answer with no text), "length" (a cut-off answer,
`finish_reason: "length"`). A streaming request (`"stream": true`) gets server-sent events.
`delay` seconds pass before any answer (a slow model); `calls` counts the requests, and
`wait_for_calls(n)` waits for the n-th (the fault-injection tests count the LLM calls a
recovery costs).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Behaviour = str | int


@dataclass
class FakeOpenAI:
    reply: str = "Texto redigido pelo modelo."
    fail_with: int | None = None  # an HTTP status to answer every request with
    script: list[Behaviour] = field(default_factory=list)  # behaviours for the next requests
    default: Behaviour = "ok"
    retry_after: str | None = "1"  # the Retry-After header of a 429
    usage: tuple[int, int] = (120, 30)  # prompt and completion tokens reported
    # report tokens estimated from the texts instead (4 characters a token), for the bench
    estimate_usage: bool = False
    # builds the answer from the request body, when set (e.g. to echo a placeholder back)
    answer: Callable[[dict[str, Any]], str] | None = None
    models: tuple[str, ...] = ("gpt-4o-mini",)  # what GET /v1/models lists
    delay: float = 0.0  # seconds before each answer
    requests: list[dict[str, Any]] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)
    runner: web.AppRunner | None = None
    url: str = ""

    async def start(self) -> FakeOpenAI:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def _next(self) -> Behaviour:
        if self.fail_with is not None:
            return self.fail_with
        return self.script.pop(0) if self.script else self.default

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append({"body": body, "auth": request.headers.get("Authorization", "")})
        self.received_at.append(time.monotonic())
        behaviour = self._next()
        if self.delay:
            await asyncio.sleep(self.delay)
        if isinstance(behaviour, int):
            error = {"error": {"message": "upstream said no", "type": "server_error"}}
            headers = {}
            if behaviour == 429 and self.retry_after is not None:
                headers["Retry-After"] = self.retry_after
            return web.json_response(error, status=behaviour, headers=headers)
        if behaviour == "hang":
            await asyncio.sleep(3600)
        if behaviour == "malformed":
            return web.Response(
                text='{"id": "chatcmpl-x", "choices": [', content_type="application/json"
            )
        text = self.answer(body) if self.answer is not None else self.reply
        finish = "stop"
        if behaviour == "empty":
            text = ""
        elif behaviour == "length":
            text, finish = text[: max(1, len(text) // 2)], "length"
        if self.estimate_usage:
            chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
            self.usage = (-(-chars // 4), -(-len(text) // 4))
        if body.get("stream"):
            return await self._stream(request, body, text, finish)
        prompt, completion = self.usage
        return web.json_response(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "gpt-4o-mini"),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": finish,
                        "message": {"role": "assistant", "content": text},
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
        )

    async def _stream(
        self, request: web.Request, body: dict[str, Any], text: str, finish: str
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        base = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "gpt-4o-mini"),
        }

        async def send(payload: dict[str, Any]) -> None:
            await response.write(f"data: {json.dumps(payload)}\n\n".encode())

        words = text.split(" ")
        for i, word in enumerate(words):
            piece = word if i == 0 else " " + word
            delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
            await send({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
            await asyncio.sleep(0)
        await send({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        prompt, completion = self.usage
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        await send({**base, "choices": [], "usage": usage})
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _models(self, request: web.Request) -> web.Response:
        if self.fail_with is not None:
            error = {"error": {"message": "refused", "type": "invalid_request_error"}}
            return web.json_response(error, status=self.fail_with)
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "test"} for m in self.models]
        return web.json_response({"object": "list", "data": data})

    @property
    def calls(self) -> int:
        return len(self.requests)

    async def wait_for_calls(self, count: int, seconds: float = 60) -> None:
        """Until `count` requests arrived (a safety bound, not a timed assert)."""
        async with asyncio.timeout(seconds):
            while len(self.requests) < count:  # noqa: ASYNC110 (requests of another task)
                await asyncio.sleep(0.05)

    def prompt_text(self, index: int = -1) -> str:
        return json.dumps(self.requests[index]["body"]["messages"], ensure_ascii=False)

    def all_prompts(self) -> str:
        return "\n".join(self.prompt_text(i) for i in range(len(self.requests)))
