"""The handoff queue: conversations waiting for a person (转人工), taken over by an operator
(the bot silent), given back to the bot or closed; operators' presence; live notifications.

The gateway's routes and the Rasa actions use this package; it uses only `hotline` (settings,
database) and knows no channel protocol.
"""
