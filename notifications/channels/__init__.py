"""Delivery channels, one module per backend, each behind ``channels.base.Channel``:
``inapp`` (the inbox is the outbox row itself), ``email`` (SMTP), ``webhook`` (WeCom and
DingTalk group robots, generic JSON POST), ``sms`` (an HTTP gateway), and ``memory``, the test
twin that records what it was asked to send."""
