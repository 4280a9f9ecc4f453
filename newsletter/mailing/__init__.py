"""A mailing list run from one ordinary mailbox: the state lives in IMAP folders, commands
arrive as mail, replies leave over SMTP.

tokens.py   HMAC tokens that bind an action to an address
commands.py what an incoming mail asks for (subscribe, confirm, unsubscribe, a bounce)
records.py  the small messages that hold the list's state, and the state read from them
mailbox.py  the IMAP folders (the only I/O with the mailbox)
sync.py     reads INBOX, acts on each mail, sends the list's own replies
"""
