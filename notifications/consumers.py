"""WebSocket consumers: a subject's live events, and a user's own notifications."""

from __future__ import annotations

from typing import Any

import structlog
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from escrow_project.common.errors import DomainError
from notifications.access import user_may_watch
from notifications.channels.live import subject_group, user_group
from notifications.services.enqueue import subject_validate

logger = structlog.get_logger(__name__)

# Application close codes (4000-4999): the page tells "log in" apart from "not yours".
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


class SubjectEventsConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/subjects/<subject_type>/<subject_id>/`: events of one subject, for who may see it."""

    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        kwargs = self.scope["url_route"]["kwargs"]
        subject_type, subject_id = kwargs["subject_type"], kwargs["subject_id"]
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        try:
            subject_validate(subject_type, subject_id)
        except DomainError:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if not await database_sync_to_async(user_may_watch)(user, subject_type, subject_id):
            logger.info("live_watch_denied", subject_type=subject_type, user_id=user.pk)
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.group = subject_group(subject_type, subject_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def live_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])


class MyNotificationsConsumer(SubjectEventsConsumer):
    """`/ws/notifications/`: the signed-in user's own notifications as they arrive."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
