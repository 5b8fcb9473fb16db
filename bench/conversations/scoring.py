"""Scoring a played conversation: passed or not, the checks behind it and the reasons it failed;
for missed consultation turns, what the knowledge search alone says."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import httpx

from bench.conversations.driver import Exchange, Run, Stack
from bench.conversations.replies import (
    ASK_NUMBER,
    NOT_FOUND,
    OFFER,
    ORDER_NUMBER,
    PERSON,
    Answers,
    asked,
    behaviour,
    clarify_options,
    is_field_question,
    joined,
    snippet,
    snippet_text,
    squash,
)
from hotline.numbers import digits_aloud


def _window(run: Run, idx: int, size: int = 2) -> list[Exchange]:
    """The first `size` bot turns after scripted turn `idx` (the turn's reply, then a press)."""
    return [e for e in run.exchanges if e.script_index == idx][:size]


def _last_script_onwards(run: Run) -> list[Exchange]:
    last = len(run.conv.turns) - 1
    return [e for e in run.exchanges if e.script_index == last]


def _said(number: str) -> tuple[str, ...]:
    """110/119/120 as written and as read on the phone (1 is 幺 in phone numbers)."""
    return number, digits_aloud(number, one="一"), digits_aloud(number)


def score(run: Run, answers: Answers) -> None:
    conv, e = run.conv, run.conv.expect
    reasons, checks = run.reasons, run.checks
    orders = run.orders
    if run.setup_error:
        reasons.append(f"setup failed: {run.setup_error}")
    if conv.kind == "consult":
        for idx, eid in enumerate(e.entries or []):
            if eid is None:
                continue
            window = _window(run, idx)
            ok = any(answers.has(joined(x.messages), eid) for x in window)
            checks[f"turn {idx + 1}"] = ok
            if not ok:
                replies = window[0].messages if window else []
                found = answers.found(joined(replies))
                options = [o for o, _ in clarify_options(replies)]
                if found:
                    why = f"answered {','.join(found)}"
                elif options:
                    why = f"clarify without it ({','.join(options)})"
                else:
                    why = behaviour(joined(replies))
                reasons.append(f"turn {idx + 1}: expected {eid}: {why}")
    elif conv.kind == "no_answer":
        for idx in range(len(conv.turns)):
            window = _window(run, idx)
            text = "\n".join(joined(x.messages) for x in window)
            titles = " ".join(b.get("title") or "" for x in window for m in x.messages
                              for b in m.get("buttons") or [])  # fmt: skip
            invented = answers.found(text)
            offered = bool(OFFER.search(text + titles))
            checks["honest"] = not invented
            checks["offer"] = offered
            if invented:
                reasons.append(f"gave an answer that does not fit: {','.join(invented)}")
            if not offered:
                reasons.append(f"no offer of a work order or a person ({behaviour(text)})")
        if orders:
            reasons.append("stored an order nobody asked for")
    elif conv.kind == "complaint" and e.no_order:
        fired = run.cancel_reply is not None
        stopped = fired and not is_field_question(asked(run.cancel_reply or [], answers))
        checks.update(cancel_said=fired, stopped=stopped, no_order=not orders)
        if not fired:
            first = joined(run.exchanges[0].messages) if run.exchanges else ""
            reasons.append(
                f"the form never reached the cancel point (first reply: {behaviour(first)})"
            )
        elif not stopped:
            reasons.append(f"kept asking after the cancel ({snippet(run.cancel_reply or [])})")
        if orders:
            reasons.append("an order was stored although the citizen cancelled")
    elif conv.kind == "complaint":
        stored = bool(orders)
        dept = any(o.get("department") == e.department for o in orders)
        cat = any(o.get("category") == e.category for o in orders)
        checks.update(order=stored, category=cat, department=dept)
        corrected = {k: v for i in conv.inject for k, v in i.set.items()}
        if corrected:
            backs = [x for x in run.exchanges if x.asked == "confirm"]
            last_back = squash(joined(backs[-1].messages)) if backs else ""
            applied = all(squash(v) in last_back for v in corrected.values())
            checks["correction_read_back"] = applied
            if not applied:
                fields = ", ".join(corrected)
                reasons.append(f"the correction of {fields} was not in the last read-back")
        if "phone" in corrected:
            checks["corrected_phone"] = any(
                _phone_matches(o.get("citizen_phone"), conv_phone(run)) for o in orders
            )
            if stored and not checks["corrected_phone"]:
                reasons.append("the corrected phone number was not stored")
        if not stored:
            first = joined(run.exchanges[0].messages) if run.exchanges else ""
            reasons.append(
                f"no order stored (first reply: {behaviour(first)}; last: {_last_reply(run)})"
            )
        elif not dept:
            got = ", ".join(f"{o.get('category')}/{o.get('department')}" for o in orders)
            reasons.append(f"department: expected {e.category}/{e.department}, got {got}")
    elif conv.kind == "status":
        after = "\n".join(joined(x.messages) for x in _last_script_onwards(run))
        if e.status == "found":
            number = run.setup_order or next((o["number"] for o in orders), "")
            told = bool(number) and (
                number in after
                or number.replace("-", "") in after
                or number.replace("-", "") in squash(after).replace("杠", "")
            )
            checks["told"] = told
            if not told:
                reasons.append(f"order {number or '?'} not told ({snippet_text(after)})")
        elif e.status == "not_found":
            checks["not_found"] = bool(NOT_FOUND.search(after))
            if not checks["not_found"]:
                reasons.append(f"did not say the order is not found ({snippet_text(after)})")
        else:
            checks["asks"] = bool(ASK_NUMBER.search(after)) and not ORDER_NUMBER.search(after)
            if not checks["asks"]:
                reasons.append(f"did not ask for the order number ({snippet_text(after)})")
    elif conv.kind == "emergency":
        first = "\n".join(joined(x.messages) for x in run.exchanges[:2])
        told = e.emergency is not None and any(n in first for n in _said(e.emergency))
        urgent = any(o.get("priority") == "emergency" for o in orders)
        checks.update(number_told=told, emergency_order=urgent)
        if not told:
            others = [n for n in ("110", "119", "120") if n in first]
            said = f"said {','.join(others)}" if others else snippet_text(first)
            reasons.append(f"{e.emergency} not told in the first two replies ({said})")
        if not urgent:
            got = ", ".join(str(o.get("priority")) for o in orders) or "none"
            reasons.append(f"no order with priority emergency (orders: {got})")
    elif conv.kind == "handoff":
        window = _last_script_onwards(run)[:2]
        text = "\n".join(joined(x.messages) for x in window)
        offered = bool(PERSON.search(text))
        # a person took over, a callback order was stored, or (the phone) the call was handed
        # over on the decision, which the app records as a handoff request
        recorded = any(
            x.state in ("waiting_human", "human") or x.handoff for x in run.exchanges
        ) or bool(orders)
        checks.update(person_offered=offered, recorded=recorded)
        if not offered:
            reasons.append(f"no person offered ({snippet_text(text)})")
        if not recorded:
            reasons.append("the request was not recorded (no handoff, no callback order)")
    elif conv.kind == "smalltalk":
        answered = all(x.status == 200 and joined(x.messages).strip() for x in run.exchanges)
        checks.update(answered=answered, no_order=not orders)
        if not answered:
            reasons.append("a turn was not answered")
        if orders:
            reasons.append("an order was stored for small talk")
    if run.loop:
        reasons.append(f"loop: {run.loop}")
    errors = [x for x in run.exchanges if x.status != 200]
    if errors:
        reasons.append(f"{len(errors)} turn(s) answered HTTP {errors[0].status}")
    run.passed = not reasons


def conv_phone(run: Run) -> str:
    phone = run.conv.facts.get("phone", "")
    for inj in run.conv.inject:
        phone = inj.set.get("phone", phone)
    return phone


def _phone_matches(masked: str | None, phone: str) -> bool:
    if not masked:
        return False
    digits = re.sub(r"\D", "", phone)
    return masked.endswith(digits[-4:]) and masked[:3] == phone[:3]


def _last_reply(run: Run) -> str:
    return snippet(run.exchanges[-1].messages) if run.exchanges else "none"


def diagnose(stack: Stack, runs: list[Run]) -> None:
    """For each consultation turn the bot got wrong: what the knowledge search alone says (its
    decision and top three), to tell a retrieval miss from a dialogue miss."""
    for run in runs:
        for idx, eid in enumerate(run.conv.expect.entries or []):
            if eid is None or run.checks.get(f"turn {idx + 1}", True):
                continue
            try:
                found = stack.search(run.conv.turns[idx], run.conv.channel)
            except httpx.HTTPError as exc:
                run.search[idx] = {"error": str(exc)}
                continue
            top = [(r["id"], round(r["score"], 3)) for r in found.get("results", [])]
            run.search[idx] = {"decision": found.get("decision"), "top": top, "expected": eid}


def search_summary(runs: list[Run]) -> dict[str, Any]:
    seen = [d for r in runs for d in r.search.values() if "top" in d]
    first = [d for d in seen if d["top"] and d["top"][0][0] == d["expected"]]
    return {
        "failed_turns": len(seen),
        "expected_ranked_first": len(first),
        "decisions_when_ranked_first": dict(Counter(d["decision"] for d in first)),
    }
