"""`hongbao app`: one live screen for chats, red packets and payments (Textual), in a
terminal or, with --web, in a browser (textual-serve).

ui.py lays out the screen, cards.py draws messages (remote text as rich Text, never
markup), live.py owns the Messenger on a thread of its own (the relay stream, sends,
the chain's news), account.py is the thin adapter to the workflows that exist.
"""
