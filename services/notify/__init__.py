"""Notify: the right message, once, in the member's language, over email (webhooks and SMS to come)."""
