"""The OpenAI drafter: a langchain-core chain (prompt templates → an OpenAI-compatible chat model)
behind the DraftWriter port, bounded in time and cost.

One retry layer (tenacity; the SDK's own retries are off) and only for what can succeed on a
second try: timeouts, 408, 429 (after its Retry-After) and 5xx. Every draft has an overall
deadline below the job's timeout, `max_tokens`, and an answer cut off by the limit is
continued once. Whatever still fails raises DraftFailed with its cause, and the service has the
offline drafter write the draft with a message that says what happened. Answers are cached by
model, prompt and attempt, so a repeated request costs nothing.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import logging
import random
import time
from typing import Any, Protocol

import openai
from cachetools import TTLCache
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_openai import ChatOpenAI
from redis.asyncio import Redis
from redis.exceptions import RedisError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from conversations.catalogue import prompts
from conversations.ports import Draft, DraftContext, DraftFailed, Progress, Usage
from conversations.prompting import blocks
from etp.settings import LlmSettings

log = logging.getLogger(__name__)

# Below this much time left, another request is not started: it could not finish.
MIN_REQUEST_SECONDS = 2.0


class DraftCache(Protocol):
    """Finished answers by request key; a miss is None. Failing storage is a miss, not an error."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...


class MemoryDraftCache:
    """This process's cache (no Redis configured)."""

    def __init__(self, ttl: float, maxsize: int = 2048) -> None:
        self._items: TTLCache[str, str] = TTLCache(maxsize=maxsize, ttl=ttl)

    async def get(self, key: str) -> str | None:
        return self._items.get(key)

    async def set(self, key: str, value: str) -> None:
        self._items[key] = value


class RedisDraftCache:
    """Shared by every process and worker; Redis being away only costs the saving."""

    def __init__(self, redis: Redis, ttl: float, prefix: str = "etp:llm-cache:") -> None:
        self.redis = redis
        self.ttl = max(1, int(ttl))
        self.prefix = prefix

    async def get(self, key: str) -> str | None:
        try:
            raw = await self.redis.get(self.prefix + key)
        except (RedisError, OSError):
            log.warning("LLM cache unavailable (read)")
            return None
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def set(self, key: str, value: str) -> None:
        try:
            await self.redis.set(self.prefix + key, value, ex=self.ttl)
        except (RedisError, OSError):
            log.warning("LLM cache unavailable (write)")


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 429) or exc.status_code >= 500
    return False


def retry_after(exc: BaseException | None) -> float | None:
    """Seconds the server asked us to wait (Retry-After: seconds or an HTTP date), if it did."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    value = exc.response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def cause_of(exc: BaseException) -> str:
    """The DraftFailed cause for an exception of the client or the chain."""
    if isinstance(exc, DraftFailed):
        return exc.cause
    if isinstance(exc, openai.APITimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code == 429:
            return "quota"
        if exc.status_code == 408:
            return "timeout"
        if exc.status_code >= 500:
            return "unavailable"
        return "refused"
    if isinstance(exc, openai.APIConnectionError):
        return "unavailable"
    # a body that is not JSON, or not the shape of a chat completion
    return "invalid"


class OpenAiDrafter:
    """Drafts with an OpenAI-compatible chat model; OPENAI_BASE_URL may point at any server."""

    name = "openai"
    inline = False  # seconds per draft: a background job

    def __init__(
        self,
        settings: LlmSettings,
        *,
        cache: DraftCache | None = None,
        backoff: float = 1.0,
    ) -> None:
        self.settings = settings
        self.model_name = settings.openai_model
        self.model = ChatOpenAI(
            model=settings.openai_model,
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            timeout=settings.llm_request_timeout,
            max_retries=0,  # the one retry layer is ours (tenacity), which honours Retry-After
            temperature=settings.llm_temperature,
            max_completion_tokens=settings.llm_max_tokens,
            stream_usage=True,
        )
        self.prompt = ChatPromptTemplate.from_messages(
            [("system", prompts.SYSTEM), ("human", prompts.HUMAN)]
        )
        self.chain = self.prompt | self.model
        self.cache: DraftCache = cache or MemoryDraftCache(settings.llm_cache_ttl)
        self.deadline = settings.llm_draft_deadline
        self.attempts = settings.llm_attempts
        self.backoff = backoff

    # --- the port ------------------------------------------------------------------------

    async def write(self, context: DraftContext) -> Draft:
        return await self._draft(context, None)

    async def stream(self, context: DraftContext, progress: Progress) -> Draft:
        return await self._draft(context, progress)

    # --- inside --------------------------------------------------------------------------

    def _key(self, messages: list[BaseMessage], attempt: int) -> str:
        payload = {
            "model": self.model_name,
            "temperature": self.settings.llm_temperature,
            "max_tokens": self.settings.llm_max_tokens,
            "attempt": attempt,
            "messages": [[m.type, m.content] for m in messages],
        }
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        s = self.settings
        total = prompt_tokens * s.prompt_cost_per_1k + completion_tokens * s.completion_cost_per_1k
        return float(total) / 1000

    async def _draft(self, context: DraftContext, progress: Progress | None) -> Draft:
        values = blocks(context)
        messages = self.prompt.format_messages(**values)
        key = self._key(messages, context.attempt)
        cached = await self.cache.get(key)
        if cached is not None:
            if progress is not None:
                await progress(cached)
            return Draft(cached, self.name, usage=Usage(model=self.model_name, cached=True))
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.deadline):
                text, finish, usage = await self._with_retries(messages, progress, started)
                if finish == "length":
                    # cut off by max_tokens: ask for the rest once, within the same deadline
                    more = [*messages, AIMessage(text), HumanMessage(prompts.CONTINUE)]
                    tail, finish, extra = await self._with_retries(more, None, started)
                    text = text.rstrip() + " " + tail.lstrip()
                    usage = usage + extra
                    if finish == "length":
                        raise DraftFailed("invalid", "the answer was cut off twice")
        except TimeoutError as exc:
            raise DraftFailed("timeout", f"no draft within {self.deadline:.0f} s") from exc
        except DraftFailed:
            raise
        except Exception as exc:
            raise DraftFailed(cause_of(exc), str(exc)[:200]) from exc
        text = text.strip()
        if not text:
            raise DraftFailed("invalid", "the model answered with an empty draft")
        await self.cache.set(key, text)
        return Draft(text, self.name, tokens=usage.tokens, usage=usage)

    async def _with_retries(
        self, messages: list[BaseMessage], progress: Progress | None, started: float
    ) -> tuple[str, str, Usage]:
        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            asked = retry_after(exc)
            if asked is not None:
                return asked
            pause: float = min(8.0, self.backoff * 2.0 ** (state.attempt_number - 1))
            return pause * random.uniform(0.5, 1.0)

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number >= self.attempts:
                return True
            left = self.deadline - (time.monotonic() - started)
            # a wait the deadline cannot afford (a long Retry-After) ends the draft now
            return wait(state) + MIN_REQUEST_SECONDS > left

        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_retryable),
            wait=wait,
            stop=stop,
            reraise=True,
            before_sleep=lambda state: log.warning(
                "LLM request failed (attempt %d), retrying: %s",
                state.attempt_number,
                state.outcome.exception() if state.outcome else None,
            ),
        ):
            with attempt:
                return await self._once(messages, progress)
        raise AssertionError("unreachable: tenacity reraises the last failure")

    async def _once(
        self, messages: list[BaseMessage], progress: Progress | None
    ) -> tuple[str, str, Usage]:
        """One request; streamed (progress called as the text grows) when progress is given."""
        message: AIMessage | AIMessageChunk
        if progress is None:
            message = await self.model.ainvoke(messages)
        else:
            whole: AIMessageChunk | None = None
            async for chunk in self.model.astream(messages):
                whole = chunk if whole is None else whole + chunk
                if isinstance(chunk.content, str) and chunk.content:
                    await progress(_text(whole))
            if whole is None:
                raise DraftFailed("invalid", "an empty stream")
            message = whole
        meta: dict[str, Any] = message.response_metadata or {}
        finish = str(meta.get("finish_reason") or "stop")
        usage_meta: Any = message.usage_metadata or {}
        prompt_tokens = int(usage_meta.get("input_tokens", 0))
        completion_tokens = int(usage_meta.get("output_tokens", 0))
        usage = Usage(
            prompt_tokens,
            completion_tokens,
            self.cost(prompt_tokens, completion_tokens),
            self.model_name,
        )
        return _text(message), finish, usage


def _text(message: AIMessage | AIMessageChunk) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in content)


def build_cache(settings: LlmSettings, redis: Redis | None) -> DraftCache:
    if redis is not None:
        return RedisDraftCache(redis, settings.llm_cache_ttl)
    return MemoryDraftCache(settings.llm_cache_ttl)
