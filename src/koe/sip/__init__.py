"""Koe's asyncio SIP stack (RFC 3261 and friends): messages, transports, transactions, dialogs."""
