"""``InAppChannel``: the in-app inbox.

The inbox is the outbox row itself: the web UI lists a user's rows of channel ``inapp`` and
marks them read. So "sending" only confirms that the message names a user to show it to; the
read/unread state and the listing belong to the outbox and the web layer.
"""

from notifications.channels.base import DeliveryError, OutgoingMessage


class InAppChannel:
    name = "inapp"

    def send(self, message: OutgoingMessage) -> None:
        if not message.address.username:
            raise DeliveryError("站内消息缺少接收用户，无法投递", permanent=True)
