"""The email channel: IMAP polling in, SMTP out, threading by our own Message-IDs.

``is_automated(message)`` says whether a stored message was written by a machine
(auto-reply, bounce, bulk or list mail): nothing automatic may answer those.
"""

from channels_app.email.automated import is_automated

__all__ = ["is_automated"]
