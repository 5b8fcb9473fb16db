"""Conversation benchmark: scripted multi-turn conversations through POST /api/v1/chat.

Each conversation of tests/conversations/*.yml (schema in its README.md) is driven against the
running stack: the citizen's scripted turns are sent in order and the driver answers the bot the
way a citizen would — a form question from the conversation's facts (by the keywords of the
question: 什么问题 / 哪里·地址 / 什么时候 / 称呼 / 电话), a read-back with 确认, a clarify
button by pressing the one that names the expected entry — with at most 12 citizen turns.

Scores: consultations answered with the right entry within two bot turns (the entry's answer text
from knowledge/kb in the reply), no-answer questions answered honestly, complaints ending in a
stored order with the right department (GET /api/v1/work-orders, matched on the conversation id
"<channel>:<sender>"), cancelled forms leaving no order, status queries, emergencies reaching the
emergency path (110/119/120 told and an order with priority "emergency"), handoff requests, small
talk, and loops (the same bot reply three times in a row, or the cap reached while the bot still
asks). Run:

    .venv/bin/python -m bench.conversations            # starts an isolated stack
    .venv/bin/python -m bench.conversations --url http://127.0.0.1:8000 --verbose
    .venv/bin/python -m bench.conversations --json > result.json

Modules: `schema` (the conversation set, the KB entries), `replies` (what a bot reply says and
asks), `driver` (the citizen who plays one conversation against the app), `scoring` (passed or
not, and why), `report` (rates, failure patterns, the printed and JSON report), `__main__` (the
command line).
"""
