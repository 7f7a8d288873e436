"""Schemathesis hooks for `make fuzz` (loaded through SCHEMATHESIS_HOOKS by scripts/fuzz.sh).

The fuzzer tests shapes: that every request the document allows is handled without a 5xx and answered as
documented. Some refusals depend on state, not shape, and no schema can state them: an `Idempotency-Key` sent
again with another request (422 `idempotency_key_reused`), a `source_id` or webhook URL already taken (422
`taken`), an email, phone number or identifier another contact holds (422 `taken`, also for a secondary
identity). Generated data repeats small values often, so the fuzzer would mostly meet those refusals and never
reach the handlers. These hooks make such values unique per request; the refusals themselves are covered by the
acceptance tests (tests/acceptance/idempotency.rs, contacts.rs, identities.rs, the webhook tests).

One rule is about shape but beyond what OpenAPI 3.0 can state: `GET …/contacts/lookup` takes exactly one of its
three query parameters (400 otherwise, tested in tests/acceptance/identities.rs). The hook keeps the first one
the fuzzer generated, or adds an identifier when it generated none.
"""

import itertools

import schemathesis

_counter = itertools.count(1)


def _unique(value, limit):
    suffix = f"-{next(_counter)}"
    return value[: max(0, limit - len(suffix))] + suffix


@schemathesis.hook
def map_case(context, case):
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key" and isinstance(headers[name], str) and headers[name]:
            headers[name] = _unique(headers[name], 255)
    if context.operation.path.endswith("/contacts/lookup"):
        query = {k: v for k, v in (case.query or {}).items() if k in ("email", "phone_number", "identifier")}
        first = next(iter(query.items()), ("identifier", "fuzz"))
        case.query = dict([first])
    body = case.body
    if isinstance(body, dict) and context.operation.path.endswith("/identities"):
        value, kind = body.get("value"), body.get("kind")
        if isinstance(value, str) and value.strip():
            if kind == "email" and value.count("@") == 1:
                local, domain = value.split("@")
                tag = f"u{next(_counter)}."
                if local and len(tag + local) <= 64 and len(tag + value) <= 254:
                    body["value"] = f"{tag}{local}@{domain}"
            elif kind == "phone_number" and value.startswith("+"):
                body["value"] = f"+1{next(_counter):010d}"
            elif kind == "identifier":
                body["value"] = _unique(value, 255)
    if isinstance(body, dict):
        source_id = body.get("source_id")
        # a new contact's (or contact inbox's) source id must be free; a conversation's must already exist
        creates_address = context.operation.path.endswith(("/contacts", "/contact_inboxes"))
        if creates_address and isinstance(source_id, str) and source_id.strip():
            body["source_id"] = _unique(source_id, 255)
        identifier = body.get("identifier")
        if isinstance(identifier, str) and identifier:
            body["identifier"] = _unique(identifier, 255)
        phone = body.get("phone_number")
        if isinstance(phone, str) and phone.startswith("+"):
            body["phone_number"] = f"+1{next(_counter):010d}"
        email = body.get("email")
        if isinstance(email, str) and email.count("@") == 1:
            local, domain = email.split("@")
            tag = f"u{next(_counter)}."
            if local and len(tag + local) <= 64 and len(tag + email) <= 254:
                body["email"] = f"{tag}{local}@{domain}"
        url = body.get("url")
        if isinstance(url, str) and url.startswith(("http://", "https://")) and "#" not in url:
            body["url"] = url + ("&" if "?" in url else "?") + f"fuzz={next(_counter)}"
    return case
