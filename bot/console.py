"""The console channel: a chat on stdin/stdout, interactive or piped."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bot import common
from conversations.events import Address, Author, Inbound
from conversations.replies import Button, Document, DraftingStarted, Reply, Text
from conversations.service import EtpService, InProcessDraftQueue

PROMPT = "> "


class ConsoleChannel:
    """Renders replies as text; buttons become numbered choices the user can type."""

    def __init__(
        self,
        service: EtpService,
        queue: InProcessDraftQueue,
        user: str,
        *,
        out: TextIO | None = None,
        folder: Path | None = None,
    ) -> None:
        self.service = service
        self.queue = queue
        self.author = Author("console", user, user)
        self.address = Address("console", user)
        self.out = out or sys.stdout
        self.folder = folder or Path.cwd()
        self.choices: tuple[Button, ...] = ()
        self.expects_text = False

    async def notify(self, address: Address, replies: Sequence[Reply]) -> None:
        self.render(replies)

    async def still_drafting(self, address: Address) -> None:
        """The console said "Redigindo…" when the draft started; nothing more to show."""

    async def drafting_progress(self, address: Address, job_id: str, text: str) -> None:
        """A terminal cannot edit what it printed: the finished draft is printed once."""

    def render(self, replies: Sequence[Reply]) -> None:
        for reply in replies:
            if isinstance(reply, Text):
                self._print(reply.text)
                if reply.buttons:
                    self.choices = reply.buttons
                    self.expects_text = reply.expects_text
                    if reply.expects_text:
                        self._print(
                            "  ("
                            + " · ".join(f"{b.command} {b.label}" for b in reply.buttons)
                            + ")"
                        )
                    else:
                        self._print(
                            "  "
                            + "  ".join(f"[{i}] {b.label}" for i, b in enumerate(reply.buttons, 1))
                        )
                else:
                    self.choices, self.expects_text = (), reply.expects_text
            elif isinstance(reply, DraftingStarted):
                self._print(reply.text)
            elif isinstance(reply, Document):
                path = self._unique(self.folder / reply.filename)
                path.write_bytes(reply.content)
                self._print(f"{reply.caption}\n{path}")

    def _unique(self, path: Path) -> Path:
        if not path.exists():
            return path
        for i in range(2, 1000):
            candidate = path.with_name(f"{path.stem}-{i}{path.suffix}")
            if not candidate.exists():
                return candidate
        return path

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def inbound(self, line: str) -> Inbound:
        stripped = line.strip()
        if stripped.isdigit() and self.choices and not self.expects_text:
            index = int(stripped) - 1
            if 0 <= index < len(self.choices):
                return Inbound.from_text(
                    self.address, self.author, self.choices[index].command, kind="action"
                )
        return Inbound.from_text(self.address, self.author, line)

    async def say(self, line: str) -> None:
        """One line from the user: handle it, print the replies, wait for drafts to arrive."""
        replies = await common.handle(self.service, self.inbound(line))
        self.render(replies)
        await self.queue.drain()

    async def run(self, stream: TextIO | None = None) -> None:
        stream = stream or sys.stdin
        interactive = stream.isatty()
        await self.say_start()
        loop = asyncio.get_running_loop()
        while True:
            if interactive:
                print(PROMPT, end="", file=self.out, flush=True)
            line = await loop.run_in_executor(None, stream.readline)
            if not line:
                break
            if not interactive:
                self._print(f"{PROMPT}{line.rstrip()}")
            await self.say(line.rstrip("\n"))

    async def say_start(self) -> None:
        replies = await self.service.handle(Inbound(self.address, self.author, "start"))
        self.render(replies)
        await self.queue.drain()
